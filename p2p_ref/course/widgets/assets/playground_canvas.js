// The label-map canvas of p2p_ref.playground (an anywidget ES module).
//
// The canvas holds one canvas pixel per label-map pixel, scaled up with crisp edges. While the
// mouse is down the stroke or rectangle is drawn here at once; on release ONE message goes to the
// kernel ({kind: "rect", seq, box} or {kind: "stroke", seq, points, width}, in label-map pixels),
// which paints the map, sends it back as `image` (what G sees) with `applied` = the last seq it
// holds, and runs G. Nothing is sent while the mouse moves, so drawing never waits for the kernel.
// A shape stays drawn on top until a map that holds it arrives.

function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.className = "p2p-playground-canvas";
  const ctx = canvas.getContext("2d");
  const map = new Image();
  let drag = null;      // the shape being drawn: {tool, colour, width, points}
  let pending = [];     // shapes sent to the kernel, drawn until the map that holds them arrives
  let sent = 0;         // shapes sent so far; the kernel echoes the last one applied as `applied`

  const size = () => model.get("size");

  function layout() {
    canvas.width = canvas.height = size();
    const d = model.get("display_size") + "px";
    Object.assign(canvas.style, { width: d, height: d, imageRendering: "pixelated",
                                  cursor: "crosshair", touchAction: "none",
                                  border: "1px solid #888" });
    redraw();
  }

  function toMap(ev) {  // mouse position in label-map pixels (fractional)
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * size() / r.width, (ev.clientY - r.top) * size() / r.height];
  }

  function box(a, b) {  // the pixels a drag from a to b covers: [x0, y0, x1, y1), clipped
    const n = size(), clip = (v) => Math.max(0, Math.min(n, v));
    return [clip(Math.floor(Math.min(a[0], b[0]))), clip(Math.floor(Math.min(a[1], b[1]))),
            clip(Math.floor(Math.max(a[0], b[0])) + 1), clip(Math.floor(Math.max(a[1], b[1])) + 1)];
  }

  function drawShape(s) {
    ctx.fillStyle = ctx.strokeStyle = s.colour;
    if (s.tool === "rect") {
      const [x0, y0, x1, y1] = box(s.points[0], s.points[s.points.length - 1]);
      ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      return;
    }
    ctx.lineWidth = s.width;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...s.points[0]);
    for (const p of s.points.slice(1)) ctx.lineTo(...p);
    if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.01, s.points[0][1]);
    ctx.stroke();
  }

  function redraw() {
    if (map.complete && map.naturalWidth) ctx.drawImage(map, 0, 0, canvas.width, canvas.height);
    for (const s of pending) drawShape(s);
    if (drag) drawShape(drag);
  }

  map.onload = () => {
    pending = pending.filter((s) => s.seq > model.get("applied"));
    redraw();
  };

  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    canvas.setPointerCapture(ev.pointerId);
    drag = { tool: model.get("tool"), colour: model.get("colour"), width: model.get("brush"),
             points: [toMap(ev)] };
    redraw();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const p = toMap(ev), last = drag.points[drag.points.length - 1];
    if (drag.tool === "rect") drag.points = [drag.points[0], p];
    else if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 0.5) drag.points.push(p);
    redraw();
  });
  canvas.addEventListener("pointerup", () => {
    if (!drag) return;
    const s = drag;
    drag = null;
    s.seq = ++sent;
    pending.push(s);
    const round = (p) => [Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10];
    if (s.tool === "rect") {
      model.send({ kind: "rect", seq: s.seq, box: box(s.points[0], s.points[s.points.length - 1]) });
    } else {
      model.send({ kind: "stroke", seq: s.seq, points: s.points.map(round), width: s.width });
    }
    redraw();
  });
  canvas.addEventListener("pointercancel", () => { drag = null; redraw(); });

  model.on("change:image", () => { map.src = model.get("image"); });
  model.on("change:size", layout);
  model.on("change:display_size", layout);
  el.appendChild(canvas);
  layout();
  map.src = model.get("image");
}

export default { render };
