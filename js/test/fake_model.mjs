// A fake anywidget model for the unit tests: the traits in a Map, and every call recorded.
// model.set() fires the "change:<name>" listeners on save_changes(), as a real model sends
// the change to the kernel then (the browser's own listeners see it at once, like anywidget's).

/** A DataView over a little-endian copy of `array` (a typed array), as traits arrive. */
export function traitBytes(array) {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength).slice();
  return new DataView(bytes.buffer);
}

/** `<side>_xy` for points [[x, y], ...] in [-1, 1], as src/embedexplore/widget.py's encode_xy. */
export function encodeXY(points) {
  const n = points.length;
  const q = new Uint16Array(2 * n);
  points.forEach(([x, y], i) => {
    q[i] = Math.round((x + 1) * 32767.5);
    q[n + i] = Math.round((y + 1) * 32767.5);
  });
  return q;
}

export function fakeModel(traits = {}) {
  const values = new Map(Object.entries(traits));
  const listeners = new Map();
  const calls = [];
  const model = {
    calls,
    sent: [],
    get(name) {
      calls.push(["get", name]);
      return values.get(name);
    },
    set(name, value) {
      calls.push(["set", name, value]);
      values.set(name, value);
    },
    save_changes() {
      calls.push(["save_changes"]);
    },
    on(event, fn) {
      calls.push(["on", event]);
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(fn);
    },
    off(event, fn) {
      calls.push(["off", event]);
      const list = listeners.get(event) || [];
      listeners.set(event, fn ? list.filter((f) => f !== fn) : []);
    },
    send(content, callbacks, buffers) {
      calls.push(["send", content]);
      model.sent.push({ content, buffers });
    },
    /** The kernel changes a trait: the value is set and the "change:<name>" listeners run. */
    fromKernel(name, value) {
      values.set(name, value);
      for (const fn of listeners.get(`change:${name}`) || []) fn();
    },
    /** The kernel sends a custom message. */
    message(content, buffers) {
      for (const fn of listeners.get("msg:custom") || []) fn(content, buffers);
    },
    /** The calls of one kind, e.g. model.callsOf("set"). */
    callsOf(kind) {
      return calls.filter((c) => c[0] === kind);
    },
  };
  return model;
}

/** A fake regl-scatterplot: records its calls (select, deselect, hover, setDetail, ...). */
export function fakeScatterplot() {
  const calls = [];
  const record = (name) => (...args) => calls.push([name, ...args]);
  return {
    calls,
    select: record("select"),
    deselect: record("deselect"),
    hover: record("hover"),
    filter: record("filter"),
    unfilter: record("unfilter"),
    redraw: record("redraw"),
    draw: record("draw"),
    setDetail: record("setDetail"),
    setProgressive: record("setProgressive"),
    holdProgressive: record("holdProgressive"),
  };
}

/** A fake 2-D canvas context: records each drawing call and property set, in order. */
export function fakeContext2d() {
  const calls = [];
  const target = { calls };
  return new Proxy(target, {
    get(t, key) {
      if (key in t) return t[key];
      return (...args) => calls.push([key, ...args]);
    },
    set(t, key, value) {
      calls.push([`${String(key)}=`, value]);
      return true;
    },
  });
}
