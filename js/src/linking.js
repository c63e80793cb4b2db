// Linking the panes: the hovered point (labelled and marked in both panes, played after a pause
// once sound is on), the point playing (marked in both), and the selection, which takes ONE path
// whether it comes from a pane's lasso or from Python (the `selected` trait): applySelection().
// A hover draws no points: only the panes' labels and overlays change (pane.js showHover). No
// DOM or WebGL of its own: the panes' scatterplots, elements and hover drawing come in `panes`
// and `showHover`, so the unit tests drive it with fakes.
import { bitsOf, indicesOf, SIDES, selectionTrait, typed } from "./traits.js";

export const HOVER_PLAY_DELAY_MS = 350;

/** Where a selection comes from: a pane's side ("left", "right"), or the kernel. */
export const FROM_KERNEL = "kernel";

/**
 * @param {Object} o
 * @param {Object} o.model     the widget model (get, set, save_changes)
 * @param {Object} o.panes     {left, right}: each {sp, pane} (its scatterplot and element)
 * @param {Object} o.state     shared {hovered, hoverSide, playing, hoverTimer, selection,
 *                             selectionBits (its trait's bits, or null: not yet made), data}
 * @param {Object} o.audio     {unlocked, playSegment(track, segment)}
 * @param {Object} o.root      the widget's element (dataset.hovered, dataset.selected)
 * @param {Object} o.status    the toolbar's status element (textContent)
 * @param {(pane: Object) => void} o.showHover  show the hovered point's label and marks in a pane
 * @param {() => void} [o.sent]  a selection made here has left for the kernel
 */
export function createLinking({ model, panes, state, audio, root, status, showHover, sent = () => {} }) {
  const showAll = () => SIDES.forEach((side) => showHover(panes[side]));

  let played = -1;

  /** Play point `i`'s segment (marked in both panes while the player plays: `playing`). */
  function playPoint(i) {
    const d = state.data;
    played = i;
    audio.playSegment(d.track[i], d.segment[i]);
  }

  /** The player plays (`on`: the point last played, or its track played on) or stopped. */
  function playing(on) {
    const i = on && played < state.data.n ? played : -1;
    if (i === state.playing) return;
    state.playing = i;
    showAll();
  }

  /** Point `i` (-1: none) is hovered in the pane `side`: marked in both, played after a pause. */
  function hover(side, i) {
    state.hovered = i;
    state.hoverSide = side;
    showAll();
    root.dataset.hovered = String(i);
    clearTimeout(state.hoverTimer);
    if (i >= 0 && audio.unlocked) {
      state.hoverTimer = setTimeout(() => state.hovered === i && playPoint(i), HOVER_PLAY_DELAY_MS);
    }
  }

  /**
   * The selection is now `list` (point indices), from `source`: the panes other than the source
   * show it, the counts are updated, and a selection made in the browser is sent to Python.
   */
  function applySelection(list, source, bits = null) {
    state.selection = list;
    state.selectionBits = bits;
    for (const side of SIDES) {
      if (side !== source) {
        // a copy: select() splices out the points a moving pane has filtered away (see lod.js)
        if (list.length) panes[side].sp.select(list.slice(), { preventEvent: true });
        else panes[side].sp.deselect({ preventEvent: true });
      }
      panes[side].pane.dataset.selected = String(list.length);
    }
    status.textContent = list.length ? `${list.length.toLocaleString()} selected` : "";
    root.dataset.selected = String(list.length);
    if (source !== FROM_KERNEL) {
      const trait = selectionTrait(list, state.data.n);
      state.selectionBits = new Uint8Array(trait.buffer);
      model.set("selected", trait);
      model.save_changes();
      sent();
    }
  }

  /** A pane's lasso (or its deselect: no points). */
  function fromPane(side, points) {
    applySelection(Array.from(points || []), side);
  }

  /**
   * The `selected` trait changed: applied unless it is the selection shown already, compared as
   * the trait's bits (both sides write ceil(n / 8) bytes, or none): the kernel echoes a selection
   * sent from here, whose points come in the spatial index's order, and applying it again took a
   * second at a million points.
   */
  function fromKernel() {
    const n = state.data.n;
    const got = typed(Uint8Array, model.get("selected"));
    const shown = (state.selectionBits ??= state.selection.length ? bitsOf(state.selection, n) : new Uint8Array(0));
    if (got.length === shown.length && got.every((v, j) => v === shown[j])) return;
    applySelection(got.length ? indicesOf(got, n) : [], FROM_KERNEL, got.slice());
  }

  return { hover, playPoint, playing, applySelection, fromPane, fromKernel };
}
