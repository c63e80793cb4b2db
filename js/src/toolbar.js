// The toolbar (view, time scale, colour, every k-th row, the music and highlight filters, the
// mouse modes, reset, clear, play on, stop, the status) and each pane's header menus (model,
// layer, projection, tag axes). Every control writes a trait the browser may write (see
// src/embedexplore/widget.py); nextPaneSpec() is the pure part of the header's.
import { h, select } from "./dom.js";

/** The mouse modes: [mode, button label, title]; "box" is regl-scatterplot's rectangle lasso. */
const MODES = [
  ["panZoom", "pan", "drag to pan, wheel to zoom"],
  ["lasso", "lasso", "drag a freeform lasso (or hold shift in pan mode)"],
  ["box", "box", "drag a rectangle"],
];

/**
 * A pane's spec ({model, layer, projection, x_tag, y_tag}) with `key` set to `value`; a new model
 * keeps the layer and the tag projection only where the model has them (else its "embeddings"
 * layer or its first, and PCA), and clears the tag axes.
 */
export function nextPaneSpec(spec, key, value, options) {
  const next = { ...spec, [key]: value };
  if (key === "model") {
    const layers = (options.layers || {})[value] || [];
    if (!layers.includes(next.layer)) next.layer = layers.includes("embeddings") ? "embeddings" : layers[0];
    if (next.projection === "tags" && !(options.tags || {})[value]) next.projection = "pca";
    next.x_tag = "";
    next.y_tag = "";
  }
  return next;
}

/**
 * @param {Object} o
 * @param {Object} o.model  the widget model
 * @param {Object} o.panes  {left, right} (filled in later): each {sp, side, header}
 * @param {Object} o.audio  the player (playOn, stop)
 */
export function createToolbar({ model, panes, audio }) {
  const opts = () => model.get("options") || {};
  const status = h("span", { class: "ee-status" });
  const modeButtons = {};
  let mouseMode = "panZoom";

  function save(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  function setMode(mode) {
    mouseMode = mode;
    for (const [m, b] of Object.entries(modeButtons)) b.classList.toggle("ee-active", m === mode);
    for (const p of Object.values(panes)) {
      p.sp.set({
        mouseMode: mode === "box" ? "lasso" : mode,
        lassoType: mode === "box" ? "rectangle" : "freeform",
      });
    }
  }
  for (const [mode, label, title] of MODES) {
    modeButtons[mode] = h("button", { class: "ee-mode", title, onclick: () => setMode(mode) }, label);
  }

  const bar = h("div", { class: "ee-bar" });
  function build() {
    bar.replaceChildren();
    const o = opts();
    const tagNames = [...new Set(Object.values(o.tags || {}).flat())].sort();
    bar.append(
      h("label", {}, "view ",
        select(o.views || ["segments"], model.get("view"), (v) => save("view", v), "what a point is")),
      h("label", {}, "time ",
        select(o.time_scales || [["native", "native segments"]], model.get("time_scale"),
          (v) => save("time_scale", v), "what a row is: the models' own segments, windows, or whole tracks")),
      h("label", {}, "colour ",
        select([...(o.color_by || []), ...tagNames.map((t) => [`tag:${t}`, `tag: ${t}`])],
          model.get("color_by"), (v) => save("color_by", v), "colour the points by")),
      h("label", { title: "show every k-th row" }, "every ",
        h("input", { type: "number", min: "1", value: model.get("every"), class: "ee-every",
          onchange: (e) => save("every", Math.max(1, parseInt(e.target.value, 10) || 1)) })),
      filterControl("music", "show", o),
      filterControl("highlight", "highlight", o),
      ...Object.values(modeButtons),
      h("button", { title: "zoom both panes back out", onclick: () => {
        for (const p of Object.values(panes)) p.sp.reset();
      } }, "⟲ reset"),
      h("button", { title: "clear the selection", onclick: () => {
        for (const p of Object.values(panes)) p.sp.deselect();
      } }, "✕ clear"),
      h("button", { title: "play the track on from the last segment heard", class: "ee-playon",
        onclick: () => audio.playOn() }, "▶ play on"),
      h("button", { title: "stop", onclick: () => audio.stop() }, "■"),
      status,
    );
    modeButtons[mouseMode]?.classList.add("ee-active");
  }

  function filterControl(name, label, o) {
    const current = model.get(name) || {};
    const kinds = [["artists", "artist"], ["albums", "album"], ["genres", "genre"], ["tags", "tag"]];
    const kind = select(kinds, Object.keys(current)[0] || "artists", () => fillList(), `${label} by`);
    const listId = `ee-${name}-${Math.random().toString(36).slice(2)}`;
    const list = h("datalist", { id: listId });
    const input = h("input", { list: listId, class: "ee-filter", placeholder: `${label}…`,
      value: Object.values(current)[0]?.join(", ") || "" });
    function fillList() {
      const values = kind.value === "tags"
        ? [...new Set(Object.values(o.tags || {}).flat())] : o[kind.value] || [];
      list.replaceChildren(...values.map((v) => h("option", { value: v })));
    }
    fillList();
    const apply = () => {
      const values = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      save(name, values.length ? { [kind.value]: values } : {});
    };
    input.addEventListener("change", apply);
    return h("span", { class: "ee-filterbox" }, `${label} `, kind, input, list,
      h("button", { title: `${label} all`, onclick: () => { input.value = ""; apply(); } }, "×"));
  }

  /** A pane's header: its model, layer, projection (and tag axes) menus, and its title. */
  function buildHeader(p) {
    const o = opts();
    const spec = model.get(p.side);
    const full = spec.model; // the registry's name, e.g. "musicnn-msd"
    const set = (key, value) => save(p.side, nextPaneSpec(model.get(p.side), key, value, o));
    const names = o.projection_names || {};
    const parts = [
      select(o.models || [], spec.model, (v) => set("model", v), "model (architecture, training data, segments)"),
      select((o.layers || {})[full] || [], spec.layer, (v) => set("layer", v), "layer"),
      select((o.projections || []).map((m) => [m, names[m] || m]), spec.projection,
        (v) => set("projection", v), "projection"),
    ];
    if (spec.projection === "tags") {
      const tags = (o.tags || {})[full] || [];
      parts.push(select(tags, spec.x_tag, (v) => set("x_tag", v), "x axis: this tag's activation"),
        select(tags, spec.y_tag, (v) => set("y_tag", v), "y axis: this tag's activation"));
    }
    p.header.replaceChildren(...parts, h("span", { class: "ee-title" }, model.get(`${p.side}_title`)));
  }

  return {
    bar,
    status,
    build,
    buildHeader,
    get mouseMode() {
      return mouseMode;
    },
  };
}
