// Linking the panes: the hovered point (shown in both panes, played after a pause once sound is
// on) and the selection, which takes ONE path whether it comes from a pane's lasso or from
// Python (the `selected` trait): applySelection(). No DOM or WebGL of its own: the panes'
// scatterplots, elements and label placing come in `panes` and `placeLabel`, so the unit tests
// drive it with fakes.
import { SIDES, selectedIndices, selectionTrait } from "./traits.js";

export const HOVER_PLAY_DELAY_MS = 350;

/** Where a selection comes from: a pane's side ("left", "right"), or the kernel. */
export const FROM_KERNEL = "kernel";

/**
 * @param {Object} o
 * @param {Object} o.model     the widget model (get, set, save_changes)
 * @param {Object} o.panes     {left, right}: each {sp, pane} (its scatterplot and element)
 * @param {Object} o.state     shared {hovered, hoverTimer, selection, data}
 * @param {Object} o.audio     {unlocked, playSegment(track, segment)}
 * @param {Object} o.root      the widget's element (dataset.hovered, dataset.selected)
 * @param {Object} o.status    the toolbar's status element (textContent)
 * @param {(pane: Object) => void} o.placeLabel  show the hovered point's label in a pane
 */
export function createLinking({ model, panes, state, audio, root, status, placeLabel }) {
  function playPoint(i) {
    const d = state.data;
    audio.playSegment(d.track[i], d.segment[i]);
  }

  /** A pane's hovered point `i` (-1: none) shown in the other pane, played after a pause. */
  function hover(side, i) {
    state.hovered = i;
    for (const other of SIDES) {
      if (other !== side) panes[other].sp.hover(i, { preventEvent: true, showReticleOnce: true });
      placeLabel(panes[other]);
    }
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
  function applySelection(list, source) {
    state.selection = list;
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
      model.set("selected", selectionTrait(list, state.data.n));
      model.save_changes();
    }
  }

  /** A pane's lasso (or its deselect: no points). */
  function fromPane(side, points) {
    applySelection(Array.from(points || []), side);
  }

  /** The `selected` trait changed: applied unless it is the selection shown already. */
  function fromKernel() {
    const list = selectedIndices(model, state.data.n);
    const same = list.length === state.selection.length && list.every((v, j) => v === state.selection[j]);
    if (!same) applySelection(list, FROM_KERNEL);
  }

  return { hover, playPoint, applySelection, fromPane, fromKernel };
}
