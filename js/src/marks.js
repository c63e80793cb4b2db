// The marks over a pane's points, drawn on a 2-D canvas of their own above the WebGL one: the
// hovered point, the same point in the other pane (with a crosshair, to find it among millions)
// and the point whose audio plays. Moving a mark redraws a few shapes, never the points: a hover
// cost a redraw of every point of both panes before (2 s at a million points in software WebGL).
// Pure: the caller gives the canvas's 2-D context and the marks' positions.

export const HOVER_COLOR = "#111";
export const PLAYING_COLOR = "#0b5ed7";

/**
 * What to mark in one pane.
 * @param {Object} o
 * @param {string} o.side          this pane
 * @param {number} o.hovered       the hovered point (-1: none)
 * @param {string} o.hoverSide     the pane the mouse is in
 * @param {number} o.playing       the point playing (-1: none)
 * @param {(i: number) => number[]|undefined} o.position  a point's [x, y] in the pane's pixels
 * @returns {{kind: "hover"|"linked"|"playing", x: number, y: number}[]}
 */
export function marksFor({ side, hovered, hoverSide, playing, position }) {
  const out = [];
  const at = (i, kind) => {
    const pos = i >= 0 ? position(i) : undefined;
    if (pos && Number.isFinite(pos[0]) && Number.isFinite(pos[1])) out.push({ kind, x: pos[0], y: pos[1] });
  };
  at(playing, "playing");
  at(hovered, side === hoverSide ? "hover" : "linked");
  return out;
}

/** Clear the context `g` (a canvas of `width` x `height` CSS pixels at `scale`) and draw `marks`. */
export function drawMarks(g, marks, { width, height, scale = 1 }) {
  g.setTransform(scale, 0, 0, scale, 0, 0);
  g.clearRect(0, 0, width, height);
  for (const { kind, x, y } of marks) {
    if (kind === "playing") {
      g.strokeStyle = PLAYING_COLOR;
      g.lineWidth = 2.5;
      g.beginPath();
      g.arc(x, y, 11, 0, 2 * Math.PI);
      g.stroke();
      continue;
    }
    if (kind === "linked") {
      // a crosshair across the pane, open around the point
      g.strokeStyle = "rgba(0, 0, 0, 0.35)";
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(0, y);
      g.lineTo(x - 10, y);
      g.moveTo(x + 10, y);
      g.lineTo(width, y);
      g.moveTo(x, 0);
      g.lineTo(x, y - 10);
      g.moveTo(x, y + 10);
      g.lineTo(x, height);
      g.stroke();
    }
    g.fillStyle = HOVER_COLOR;
    g.strokeStyle = "#fff";
    g.lineWidth = 1.5;
    g.beginPath();
    g.arc(x, y, 3.5, 0, 2 * Math.PI);
    g.fill();
    g.stroke();
    g.strokeStyle = HOVER_COLOR;
    g.lineWidth = 2;
    g.beginPath();
    g.arc(x, y, 7, 0, 2 * Math.PI);
    g.stroke();
  }
}
