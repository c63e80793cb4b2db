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
      "  const eeSelectedNumPoints = () =>\n" +
      "    eeSelCount >= 0 ? eeSelCount : eeDetailOn ? eeDetail.numSelected : selectedPoints.length;\n" +
      "  const eeSelectedIndexBuffer = () => (eeDetailOn ? eeDetail.selectedBuffer : selectedPointsIndexBuffer);\n",
  },
  {
    why: "level of detail: the points drawn",
    find: "  const getNormalPointsIndexBuffer = () => normalPointsIndexBuffer;\n",
    replace:
      "  const getNormalPointsIndexBuffer = () =>\n" +
      "    eeOrderOn ? eeOrder.buffer : eeDetailOn ? eeDetail.pointsBuffer : normalPointsIndexBuffer;\n",
  },
  {
    why: "level of detail: how many points",
    find:
      "  const getNormalNumPoints = () =>\n    isPointsFiltered ? filteredPointsSet.size : numPoints;\n",
    replace:
      "  const getNormalNumPoints = () =>\n    eeCount >= 0 ? eeCount : eeDetailOn ? eeDetail.numPoints : isPointsFiltered ? filteredPointsSet.size : numPoints;\n",
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
      "      eeDetailOn = false;\n      eeNext = 0;\n      if (eeDetail) eeDetail.points = eeDetail.selected = null;\n",
  },
  {
    // the panes draw first and find points next: draw() takes an empty index at once, and the
    // index built off the main thread (spatial.js) replaces it when it is ready, so that a frame
    // of 4 million points and the index's second or two overlap
    why: "the spatial index set after drawing",
    find: "    draw: publicDraw,\n    drawAnnotations,\n",
    replace:
      "    draw: publicDraw,\n    drawAnnotations,\n    setDetail: eeSetDetail,\n" +
      "    setProgressive: (units, first = units) => {\n" +
      "      eeChunk = units > 0 ? Math.floor(units) : 0;\n" +
      "      eeFirstChunk = first > 0 ? Math.floor(first) : eeChunk;\n    },\n" +
      "    holdProgressive: (held) => {\n      eeHeld = Boolean(held);\n    },\n" +
      "    setSpatialIndex: (buffer) => {\n      spatialIndex = KDBush$1.from(buffer);\n    },\n",
  },
  {
    // progressive drawing: where drawing all points takes longer than a frame should (4 million
    // points: 0.6 to 2.3 s in software WebGL), a full picture is drawn over several frames, a
    // chunk of `eeChunk` points each (setProgressive(), set by the pane from its measured time
    // per point: lod.js; the first chunk of a picture its own size, as a new view may cost more
    // per point than the last), each frame adding to the picture of the last. The
    // points come in an interleaved order (every 61st point, from 61 starts), so that each chunk
    // spreads over the whole picture; the selection is drawn last, on top, as the library does:
    // all its outlines, then all its inner borders, then all its bodies (a chunk's borders drawn
    // over the last chunk's bodies left white seams along the spatial index's blocks).
    // Any change (a new view, new points, a selection) starts the picture again, and
    // holdProgressive(true) puts the next chunks off (the mouse moves: its hover is answered
    // first).
    why: "progressive drawing: the chunks",
    find: "  const getPointOpacityMaxBase = () =>\n",
    replace:
      "  let eeChunk = 0;\n" +
      "  let eeFirstChunk = 0;\n" +
      "  let eeHeld = false;\n" +
      "  let eeNext = 0;\n" +
      "  let eeOrder = null;\n" +
      "  let eeOrderOn = false;\n" +
      "  let eeOffset = 0;\n" +
      "  let eeCount = -1;\n" +
      "  let eeSelCount = -1;\n" +
      "  const EE_STRIDE = 61;\n" +
      "  const eeMakeOrder = () => {\n" +
      "    if (eeOrder && eeOrder.n === numPoints && eeOrder.res === stateTexRes) return;\n" +
      "    const out = new Float32Array(numPoints * 2);\n" +
      "    let j = 0;\n" +
      "    for (let r = 0; r < EE_STRIDE; r++) {\n" +
      "      for (let i = r; i < numPoints; i += EE_STRIDE) {\n" +
      "        out[j++] = (i % stateTexRes) / stateTexRes + stateTexEps;\n" +
      "        out[j++] = Math.floor(i / stateTexRes) / stateTexRes + stateTexEps;\n" +
      "      }\n" +
      "    }\n" +
      "    if (!eeOrder) eeOrder = { buffer: renderer.regl.buffer() };\n" +
      "    eeOrder.buffer({ usage: 'static', type: 'float', data: out });\n" +
      "    eeOrder.n = numPoints;\n" +
      "    eeOrder.res = stateTexRes;\n" +
      "  };\n" +
      "  const eePlan = (more) => {\n" +
      "    const n = getNormalNumPoints();\n" +
      "    const s = selectedPoints.length;\n" +
      "    const units = n + 3 * s;\n" +
      "    if (!more) eeNext = 0;\n" +
      "    if (eeChunk <= 0 || eeDetailOn || isPointsFiltered || isTransitioning ||\n" +
      "        (eeNext === 0 && units <= eeFirstChunk * 1.25)) {\n" +
      "      eeNext = 0;\n" +
      "      return { from: 0, to: units, units, first: true, last: true, all: true };\n" +
      "    }\n" +
      "    const from = eeNext;\n" +
      "    const to = Math.min(units, from + (from === 0 ? eeFirstChunk : eeChunk));\n" +
      "    eeNext = to < units ? to : 0;\n" +
      "    return { from, to, units, n, s, first: from === 0, last: to === units, all: false };\n" +
      "  };\n" +
      "  const eeDrawBodies = (f) => {\n" +
      "    if (f.all) return drawPointBodies();\n" +
      "    const to = Math.min(f.to, f.n);\n" +
      "    if (to <= f.from) return;\n" +
      "    eeMakeOrder();\n" +
      "    eeOffset = f.from;\n" +
      "    eeCount = to - f.from;\n" +
      "    eeOrderOn = true;\n" +
      "    drawPointBodies();\n" +
      "    eeOffset = 0;\n" +
      "    eeCount = -1;\n" +
      "    eeOrderOn = false;\n" +
      "  };\n" +
      "  const eeDrawSelected = (f) => {\n" +
      "    if (f.all) return drawSelectedPoints();\n" +
      "    const passes = [drawSelectedPointOutlines, drawSelectedPointInnerBorder, drawSelectedPointBodies];\n" +
      "    for (let k = 0; k < 3; k++) {\n" +
      "      const lo = f.n + k * f.s;\n" +
      "      const a = Math.max(f.from, lo) - lo;\n" +
      "      const b = Math.min(f.to, lo + f.s) - lo;\n" +
      "      if (b <= a) continue;\n" +
      "      eeOffset = a;\n" +
      "      eeSelCount = b - a;\n" +
      "      passes[k]();\n" +
      "    }\n" +
      "    eeOffset = 0;\n" +
      "    eeSelCount = -1;\n" +
      "  };\n" +
      "  const getPointOpacityMaxBase = () =>\n",
  },
  {
    why: "progressive drawing: an offset into the points",
    find: "      count: getNumPoints,\n",
    replace: "      count: getNumPoints,\n      offset: () => eeOffset,\n",
  },
  {
    why: "progressive drawing: the next chunk",
    find:
      "    if (!((isPointsDrawn || isAnnotationsDrawn) && (draw || isTransitioning))) {\n" +
      "      return;\n    }\n",
    replace:
      "    if (eeNext > 0 && isViewChanged) draw = true;\n" +
      "    const eeMore = eeNext > 0 && !draw && !isTransitioning && !eeHeld;\n" +
      "    if (!((isPointsDrawn || isAnnotationsDrawn) && (draw || isTransitioning || eeMore))) {\n" +
      "      return;\n    }\n" +
      "    const eeFrame = eePlan(eeMore);\n",
  },
  {
    why: "progressive drawing: the background once",
    find: "      if (backgroundImage?._reglType) {\n",
    replace: "      if (eeFrame.first && backgroundImage?._reglType) {\n",
  },
  {
    why: "progressive drawing: the lasso's polygon once",
    find: "      if (lassoPointsCurr.length > 2) {\n",
    replace: "      if (eeFrame.first && lassoPointsCurr.length > 2) {\n",
  },
  {
    why: "progressive drawing: the lines once",
    find: "      if (!isTransitioning) {\n        pointConnections.draw({\n",
    replace: "      if (eeFrame.first && !isTransitioning) {\n        pointConnections.draw({\n",
  },
  {
    why: "progressive drawing: a chunk of the points",
    find: "        drawPointBodies();\n      }\n",
    replace: "        eeDrawBodies(eeFrame);\n      }\n",
  },
  {
    why: "progressive drawing: the reticle last",
    find: "      if (!mouseDown && (showReticle || drawReticleOnce)) {\n",
    replace: "      if (eeFrame.last && !mouseDown && (showReticle || drawReticleOnce)) {\n",
  },
  {
    why: "progressive drawing: the hovered point last",
    find: "      if (hoveredPoint >= 0) {\n",
    replace: "      if (eeFrame.last && hoveredPoint >= 0) {\n",
  },
  {
    why: "progressive drawing: a chunk of the selection",
    find: "      if (selectedPoints.length > 0) {\n        drawSelectedPoints();\n",
    replace: "      if (selectedPoints.length > 0) {\n        eeDrawSelected(eeFrame);\n",
  },
  {
    why: "progressive drawing: the annotations last",
    find: "      annotations.draw({\n",
    replace: "      if (eeFrame.last) annotations.draw({\n",
  },
  {
    why: "progressive drawing: the lasso last",
    find: "      lasso.draw({\n",
    replace: "      if (eeFrame.last) lasso.draw({\n",
  },
  {
    why: "progressive drawing: a chunk drawn over the last",
    find: "    }, canvas);\n",
    replace: "    }, canvas, eeFrame.all ? undefined : eeFrame.first ? 'first' : 'more');\n",
  },
  {
    // which points the frame drew, for the pane's time per point (pane.js)
    why: "progressive drawing: what the frame drew",
    find: "    const renderView = {\n",
    replace: "    const renderView = {\n      eeFrame,\n",
  },
  {
    // each pane's picture drawn over several frames accumulates in a float framebuffer of its
    // own (the renderer's one is cleared for each pane, each frame), which is then copied as a
    // whole: chunks composited on the pane's canvas instead came out washed out (the gamma
    // correction is applied after blending, so partial pictures do not add up)
    why: "progressive drawing: a framebuffer per pane",
    find: "    src: () => fbo,\n",
    replace:
      "    src: () => eeSrc || fbo,\n",
  },
  {
    why: "progressive drawing: render() into it",
    find:
      "    /** @type {HTMLCanvasElement} */ targetCanvas,\n  ) => {\n" +
      "    // Clear internal canvas\n    regl.clear(CLEAR_OPTIONS);\n",
    replace:
      "    /** @type {HTMLCanvasElement} */ targetCanvas,\n    eePart,\n  ) => {\n" +
      "    // Clear internal canvas\n    regl.clear(CLEAR_OPTIONS);\n" +
      "    if (eePart) {\n" +
      "      let own = eeFbos.get(targetCanvas);\n" +
      "      if (!own) {\n" +
      "        own = regl.framebuffer({ width: fboRes[0], height: fboRes[1], colorFormat: 'rgba', colorType: 'float' });\n" +
      "        eeFbos.set(targetCanvas, own);\n" +
      "      }\n" +
      "      own.resize(fboRes[0], fboRes[1]);\n" +
      "      own.use(() => {\n" +
      "        if (eePart === 'first') regl.clear(CLEAR_OPTIONS);\n" +
      "        draw();\n" +
      "      });\n" +
      "      eeSrc = own;\n" +
      "      renderToCanvas();\n" +
      "      eeSrc = null;\n" +
      "      copyTo(targetCanvas);\n" +
      "      return;\n" +
      "    }\n",
  },
  {
    why: "progressive drawing: the panes' framebuffers",
    find: "  const fboRes = [canvas.width, canvas.height];\n",
    replace:
      "  const fboRes = [canvas.width, canvas.height];\n" +
      "  const eeFbos = new WeakMap();\n" +
      "  let eeSrc = null;\n",
  },
  {
    // a lasso of a million points: each candidate's coordinates read from the widget's columns
    // (points.js eeXY) instead of making its row through the Proxy (a 4-array per point)
    why: "lasso: points read from the columns",
    find:
      "    for (const pointIdx of pointsInBBox) {\n" +
      "      if (isPointInPolygon(lassoPolygon, points[pointIdx])) {\n",
    replace:
      "    const eeXY = points.eeXY;\n" +
      "    const eeAt = [0, 0];\n" +
      "    for (const pointIdx of pointsInBBox) {\n" +
      "      if (isPointInPolygon(lassoPolygon, eeXY ? eeXY(pointIdx, eeAt) : points[pointIdx])) {\n",
  },
  {
    // select(): a selection the same as the one shown is found with one Set, not two (a
    // million points: half a second), and one of another length at once
    why: "selection: the same one found cheaply",
    find: "    if (hasSameElements(currSelectedPoints, selectedPoints)) {\n",
    replace:
      "    if (currSelectedPoints.length === selectedPoints.length &&\n" +
      "        (selectedPoints.every((v, i) => v === currSelectedPoints[i]) ||\n" +
      "          ((eeSet) => selectedPoints.every((v) => eeSet.has(v)))(new Set(currSelectedPoints)))) {\n",
  },
  {
    // select(): the selection's texture coordinates written into one Float32Array, and invalid
    // points dropped in one pass; the library pushed two numbers per point onto a JavaScript
    // array through a new array each (and spliced each invalid point out): 0.6 s a million
    why: "selection: its buffer made in one pass",
    find:
      "    const selectedPointsBuffer = [];\n\n" +
      "    selectedPointsSet.clear();\n" +
      "    selectedPointsConnectionSet.clear();\n\n" +
      "    for (let i = selectedPoints.length - 1; i >= 0; i--) {\n" +
      "      const pointIdx = selectedPoints[i];\n\n" +
      "      if (\n" +
      "        pointIdx < 0 ||\n" +
      "        pointIdx >= numPoints ||\n" +
      "        isPointsFilteredOut(pointIdx)\n" +
      "      ) {\n" +
      "        // Remove invalid selected points\n" +
      "        selectedPoints.splice(i, 1);\n" +
      "        continue;\n" +
      "      }\n\n" +
      "      selectedPointsSet.add(pointIdx);\n" +
      "      selectedPointsBuffer.push.apply(\n" +
      "        selectedPointsBuffer,\n" +
      "        indexToStateTexCoord(pointIdx),\n" +
      "      );\n" +
      "    }\n",
    replace:
      "    const selectedPointsBuffer = new Float32Array(selectedPoints.length * 2);\n" +
      "    selectedPointsSet.clear();\n" +
      "    selectedPointsConnectionSet.clear();\n" +
      "    let eeKept = 0;\n" +
      "    for (let i = 0; i < selectedPoints.length; i++) {\n" +
      "      const pointIdx = selectedPoints[i];\n" +
      "      if (!(pointIdx >= 0 && pointIdx < numPoints) || isPointsFilteredOut(pointIdx)) continue;\n" +
      "      selectedPoints[eeKept] = pointIdx;\n" +
      "      selectedPointsSet.add(pointIdx);\n" +
      "      selectedPointsBuffer[2 * eeKept] = (pointIdx % stateTexRes) / stateTexRes + stateTexEps;\n" +
      "      selectedPointsBuffer[2 * eeKept + 1] = Math.floor(pointIdx / stateTexRes) / stateTexRes + stateTexEps;\n" +
      "      eeKept++;\n" +
      "    }\n" +
      "    selectedPoints.length = eeKept;\n",
  },
  {
    why: "selection: the buffer as long as the points kept",
    find:
      "    selectedPointsIndexBuffer({\n      usage: 'dynamic',\n      type: 'float',\n" +
      "      data: selectedPointsBuffer,\n    });\n",
    replace:
      "    selectedPointsIndexBuffer({\n      usage: 'dynamic',\n      type: 'float',\n" +
      "      data: selectedPointsBuffer.subarray(0, 2 * eeKept),\n    });\n",
  },
  {
    // the selected points as bits, not a Set: select() of a million points added each to a Set
    // (about 0.1 s a pane); the library only adds, clears and asks `has` of it
    why: "selection: a set of bits",
    find: "  const selectedPointsSet = new Set();\n",
    replace:
      "  const selectedPointsSet = {\n" +
      "    bits: new Uint8Array(0),\n" +
      "    add(i) {\n" +
      "      if (i >> 3 >= this.bits.length) {\n" +
      "        const grown = new Uint8Array(Math.max((i >> 3) + 1, 2 * this.bits.length));\n" +
      "        grown.set(this.bits);\n" +
      "        this.bits = grown;\n" +
      "      }\n" +
      "      this.bits[i >> 3] |= 1 << (i & 7);\n" +
      "    },\n" +
      "    has(i) {\n" +
      "      return i >= 0 && i >> 3 < this.bits.length && (this.bits[i >> 3] & (1 << (i & 7))) !== 0;\n" +
      "    },\n" +
      "    clear() {\n" +
      "      this.bits.fill(0);\n" +
      "    },\n" +
      "  };\n",
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
