// Changes to regl-scatterplot 1.16.0 made while bundling (build.mjs). Each is a plain text
// replacement that must match exactly `count` times, so a new version of the library fails the
// build here instead of changing behaviour silently. Why each exists is said beside it: the
// library offers no option for any of them, and the widget needs them at millions of points
// (issue 19; figures in benchmarks/results/widget_speed-2026-12-05-cpu-before-after.log).

export const PATCHES = [
  {
    // the trajectories' lines are drawn with mitered joins and no miter limit: where a track's
    // path turns back on itself (common in t-SNE maps) the join becomes a spike across the pane
    why: "plain line joins",
    find: "miter = true,",
    replace: "miter = false,",
  },
  {
    // hovering redrew every point (to draw the hovered one in its own colour): 2 s at a million
    // points in software WebGL. The pane now only says which point is under the mouse (a
    // "raycast" event, at once) and draws its marker on an overlay of its own (pane.js).
    why: "hover without a redraw",
    find: "      hover(raycast()); // eslint-disable-line no-use-before-define\n",
    replace: "      pubSub.publish('raycast', raycast(), { async: false });\n",
  },
  {
    why: "leaving the pane without a redraw",
    find:
      "  const mouseLeaveCanvasHandler = () => {\n    hover();\n    isMouseInCanvas = false;\n" +
      "    isMouseOverCanvasChecked = true;\n    draw = true;\n  };\n",
    replace:
      "  const mouseLeaveCanvasHandler = () => {\n    isMouseInCanvas = false;\n" +
      "    isMouseOverCanvasChecked = true;\n    pubSub.publish('raycast', -1, { async: false });\n  };\n",
  },
  {
    // the points' state texture filled from the widget's columns (points.js fillState), not
    // from one JavaScript array per point: those were 4 arrays of 4 numbers per point and pane
    // (about 170 MB of heap at a million points, seconds to make)
    why: "state texture from columns",
    find:
      "    let k = 0;\n    let z = 0;\n    let w = 0;\n    for (let i = 0; i < numNewPoints; ++i) {\n",
    replace:
      "    let k = 0;\n    let z = 0;\n    let w = 0;\n    const eeFill = newPoints.fillState;\n" +
      "    if (eeFill) eeFill(data);\n    for (let i = 0; !eeFill && i < numNewPoints; ++i) {\n",
  },
  {
    // level of detail: while a pane moves it draws a fixed subsample of its points (and of its
    // selection) from index buffers made once, instead of filter()/unfilter(), which rebuilt the
    // index of every point and the selection on each start and stop (lod.js)
    why: "level of detail buffers",
    find: "  const getSelectedPointsIndexBuffer = () => selectedPointsIndexBuffer;\n",
    replace:
      "  const getSelectedPointsIndexBuffer = () => selectedPointsIndexBuffer;\n" +
      "  let eeDetail = null;\n" +
      "  let eeDetailOn = false;\n" +
      "  const eeTexCoords = (list) => {\n" +
      "    const out = new Float32Array(list.length * 2);\n" +
      "    for (let i = 0; i < list.length; i++) {\n" +
      "      out[2 * i] = (list[i] % stateTexRes) / stateTexRes + stateTexEps;\n" +
      "      out[2 * i + 1] = Math.floor(list[i] / stateTexRes) / stateTexRes + stateTexEps;\n" +
      "    }\n" +
      "    return out;\n" +
      "  };\n" +
      "  const eeSetDetail = (points, selected) => {\n" +
      "    if (!points) {\n" +
      "      eeDetailOn = false;\n" +
      "      draw = true;\n" +
      "      return;\n" +
      "    }\n" +
      "    if (!eeDetail) eeDetail = { points: null, selected: null, pointsBuffer: renderer.regl.buffer(), selectedBuffer: renderer.regl.buffer(), numPoints: 0, numSelected: 0 };\n" +
      "    if (eeDetail.points !== points) {\n" +
      "      eeDetail.points = points;\n" +
      "      eeDetail.pointsBuffer({ usage: 'static', type: 'float', data: eeTexCoords(points) });\n" +
      "      eeDetail.numPoints = points.length;\n" +
      "    }\n" +
      "    if (eeDetail.selected !== selected) {\n" +
      "      eeDetail.selected = selected;\n" +
      "      eeDetail.selectedBuffer({ usage: 'dynamic', type: 'float', data: eeTexCoords(selected) });\n" +
      "      eeDetail.numSelected = selected.length;\n" +
      "    }\n" +
      "    eeDetailOn = true;\n" +
      "    draw = true;\n" +
      "  };\n" +
      "  const eeSelectedNumPoints = () => (eeDetailOn ? eeDetail.numSelected : selectedPoints.length);\n" +
      "  const eeSelectedIndexBuffer = () => (eeDetailOn ? eeDetail.selectedBuffer : selectedPointsIndexBuffer);\n",
  },
  {
    why: "level of detail: the points drawn",
    find: "  const getNormalPointsIndexBuffer = () => normalPointsIndexBuffer;\n",
    replace:
      "  const getNormalPointsIndexBuffer = () =>\n" +
      "    eeDetailOn ? eeDetail.pointsBuffer : normalPointsIndexBuffer;\n",
  },
  {
    why: "level of detail: how many points",
    find:
      "  const getNormalNumPoints = () =>\n    isPointsFiltered ? filteredPointsSet.size : numPoints;\n",
    replace:
      "  const getNormalNumPoints = () =>\n    eeDetailOn ? eeDetail.numPoints : isPointsFiltered ? filteredPointsSet.size : numPoints;\n",
  },
  {
    why: "level of detail: the selection drawn",
    count: 3,
    find: "    getSelectedNumPoints,\n    getSelectedPointsIndexBuffer,\n",
    replace: "    eeSelectedNumPoints,\n    eeSelectedIndexBuffer,\n",
  },
  {
    // new points (another projection, other colours) end any level of detail: its buffers
    // index the old ones
    why: "level of detail ends with new points",
    find: "  const setPoints = (newPoints, options = {}) =>\n    new Promise((resolve) => {\n",
    replace:
      "  const setPoints = (newPoints, options = {}) =>\n    new Promise((resolve) => {\n" +
      "      eeDetailOn = false;\n      if (eeDetail) eeDetail.points = eeDetail.selected = null;\n",
  },
  {
    // the panes draw first and find points next: draw() takes an empty index at once, and the
    // index built off the main thread (spatial.js) replaces it when it is ready, so that a frame
    // of 4 million points and the index's second or two overlap
    why: "the spatial index set after drawing",
    find: "    draw: publicDraw,\n    drawAnnotations,\n",
    replace:
      "    draw: publicDraw,\n    drawAnnotations,\n    setDetail: eeSetDetail,\n" +
      "    setSpatialIndex: (buffer) => {\n      spatialIndex = KDBush$1.from(buffer);\n    },\n",
  },
];

/** regl-scatterplot's source with PATCHES applied; throws where one does not match. */
export function patchScatterplot(source) {
  let out = source;
  for (const { why, find, replace, count = 1 } of PATCHES) {
    const found = out.split(find).length - 1;
    if (found !== count) {
      throw new Error(
        `regl-scatterplot: the patch "${why}" expects ${count} match(es), found ${found}; ` +
          "check js/patches.mjs against this version",
      );
    }
    out = out.split(find).join(replace);
  }
  return out;
}
