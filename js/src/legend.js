// The colour legend (the `legend` and `color_kind` traits) and the point colours it gives the
// panes (each point's index into them: points.js colorIndex). legendColors() and legendView() are
// pure; drawLegend() builds the DOM from legendView().
import { h } from "./dom.js";

/** "#rrggbb" as regl-scatterplot's [r, g, b, a] in 0..1. */
export function rgba(hex, alpha) {
  const v = parseInt(hex.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255, alpha];
}

/** Points not highlighted are drawn in the legend's colours at this opacity. */
export const DIM_ALPHA = 0.12;
/** The points' colour when there is no legend. */
export const NO_LEGEND_COLOR = [0.3, 0.47, 0.65, 1];

/**
 * The panes' colour list: the k legend entries' colours, then the same dimmed (a point's colour
 * is `color_codes[i]`, plus k where something is highlighted and it is not).
 * @returns {{k: number, list: number[][]}}
 */
export function legendColors(entries) {
  const base = entries.map((e) => rgba(e.color, 1));
  const dim = entries.map((e) => rgba(e.color, DIM_ALPHA));
  return { k: entries.length, list: base.length ? [...base, ...dim] : [NO_LEGEND_COLOR] };
}

/**
 * What the legend shows: a ramp from `low` to `high` for a continuous colouring, else one key
 * per entry (its title the entry's number of points, where known).
 */
export function legendView(entries, kind) {
  if (kind === "continuous" && entries.length) {
    return {
      ramp: {
        label: entries[0].label,
        low: entries[0].low.toFixed(2),
        high: entries[0].high.toFixed(2),
        background: `linear-gradient(to right, ${entries.map((e) => e.color).join(", ")})`,
      },
    };
  }
  return {
    keys: entries.map((e) => ({ label: e.label, color: e.color, title: e.count ? `${e.count} points` : "" })),
  };
}

/** Fill the element `el` with the legend of `entries`. */
export function drawLegend(el, entries, kind) {
  const { ramp, keys } = legendView(entries, kind);
  if (ramp) {
    el.replaceChildren(h("span", {}, ramp.label, " "), h("span", {}, ramp.low),
      h("span", { class: "ee-ramp", style: `background: ${ramp.background}` }),
      h("span", {}, ramp.high));
  } else {
    el.replaceChildren(...keys.map((key) =>
      h("span", { class: "ee-key", title: key.title },
        h("span", { class: "ee-swatch", style: `background: ${key.color}` }), key.label)));
  }
}
