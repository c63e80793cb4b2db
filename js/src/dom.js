// Small DOM helpers shared by the widget's modules. Nothing here touches `document` until it is
// called, so the pure modules that import it load in node for their unit tests.

/** An element: `attrs` "class" sets the class, "on<event>" adds a listener, other keys attributes. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

/** A <select> of `options` (values, or [value, label] pairs) calling `onchange(value)`. */
export function select(options, value, onchange, title) {
  const s = h("select", { title, onchange: () => onchange(s.value) });
  for (const o of options) {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    s.append(h("option", { value: v }, label));
  }
  s.value = value;
  return s;
}
