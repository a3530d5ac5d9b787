// Draws an Overlay (as decoded by proto.js) over an image on a 2D canvas. Coordinates on the wire are
// normalized to the frame the overlay was computed on; colours default as the edge renderer's do.

const DEFAULTS = {
  box: "#50dc3c", outline: "#00d2ff", badge: "#ff00ff", arrow: "#ff8c00", label: "#ffffff",
  panel: "#3caaff", step_card: "#78e65a", notice: "#e1e1e1",
};
const SHAPES = Object.keys(DEFAULTS);

export function shapeOf(item) {
  return SHAPES.find((name) => item[name] !== undefined);
}

function colour(item, shape) {
  return item.rgb ? `#${item.rgb.toString(16).padStart(6, "0")}` : DEFAULTS[shape];
}

// An overlay with this many boxes marks many small things (the lines of a label read out): as the edge renderer
// does, they are drawn thin, just outside what they mark, with captions where they cover no box or caption.
const DENSE_BOXES = 6;

export function drawOverlay(ctx, overlay, width, height) {
  const at = (p) => [(p?.x ?? 0) * width, (p?.y ?? 0) * height];
  const screen = [];
  const items = overlay.items ?? [];
  const boxes = items.filter((item) => shapeOf(item) === "box").map((item) => pixelBox(item.box.box, width, height));
  const marked = { boxes, tags: [], thin: boxes.length >= DENSE_BOXES };
  for (const item of items) {
    const shape = shapeOf(item);
    const rgb = colour(item, shape);
    const s = item[shape];
    ctx.strokeStyle = rgb; ctx.fillStyle = rgb; ctx.lineWidth = Math.max(2, width / 400);
    if (shape === "box") drawBox(ctx, s, rgb, width, height, marked);
    else if (shape === "badge") drawBadge(ctx, at(s.center), s.text ?? "", rgb, width);
    else if (shape === "outline") polygon(ctx, (s.points ?? []).map(at));
    else if (shape === "arrow") arrow(ctx, at(s.tail), at(s.head), s.text ?? "");
    else if (shape === "label") tag(ctx, s.text ?? "", at(s.anchor), width);
    else if (shape) screen.push({ shape, s, rgb });
  }
  drawScreenItems(ctx, screen, width, height);
}

function pixelBox(b, width, height) {
  const xs = [(b?.x0 ?? 0) * width, (b?.x1 ?? 0) * width], ys = [(b?.y0 ?? 0) * height, (b?.y1 ?? 0) * height];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

const overlaps = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];

function drawBox(ctx, s, rgb, width, height, marked) {
  const [x0, y0, x1, y1] = pixelBox(s.box, width, height);
  if (!marked.thin) {
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    if (s.caption) tag(ctx, s.caption, [x0, Math.max(0, y0 - 4)], width);
    return;
  }
  const out = 2.5;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 - out, y0 - out, x1 - x0 + 2 * out, y1 - y0 + 2 * out);
  if (!s.caption) return;
  ctx.font = `${Math.max(9, Math.round(width / 110))}px sans-serif`;
  const w = ctx.measureText(s.caption).width + 6, h = Math.max(11, width / 90), gap = 4;
  const spots = [[x0, y0 - h - gap], [x0 - w - gap, (y0 + y1 - h) / 2], [x1 + gap, (y0 + y1 - h) / 2], [x0, y1 + gap]];
  for (const [x, y] of spots) {
    const spot = [x, y, x + w, y + h];
    if (x < 0 || y < 0 || x + w > width || y + h > height) continue;
    if ([...marked.boxes, ...marked.tags].some((taken) => overlaps(spot, taken))) continue;
    marked.tags.push(spot);
    ctx.fillStyle = rgb; ctx.fillRect(x, y, w, h);
    ctx.fillStyle = "#000"; ctx.textBaseline = "middle"; ctx.fillText(s.caption, x + 3, y + h / 2);
    ctx.textBaseline = "alphabetic";
    return;
  }
}

export function drawBadge(ctx, [x, y], text, rgb, width) {
  const radius = Math.max(10, width / 45);
  ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI); ctx.fillStyle = rgb; ctx.fill();
  ctx.fillStyle = "#000"; ctx.font = `bold ${Math.round(radius * 1.2)}px sans-serif`;
  ctx.textAlign = "center"; ctx.textBaseline = "middle"; ctx.fillText(text, x, y);
  ctx.textAlign = "start"; ctx.textBaseline = "alphabetic";
}

function polygon(ctx, points) {
  if (!points.length) return;
  ctx.beginPath(); ctx.moveTo(...points[0]);
  for (const p of points.slice(1)) ctx.lineTo(...p);
  ctx.closePath(); ctx.stroke();
}

function arrow(ctx, tail, head, text) {
  ctx.beginPath(); ctx.moveTo(...tail); ctx.lineTo(...head); ctx.stroke();
  const angle = Math.atan2(head[1] - tail[1], head[0] - tail[0]);
  for (const turn of [-0.5, 0.5]) {
    ctx.beginPath(); ctx.moveTo(...head);
    ctx.lineTo(head[0] - 14 * Math.cos(angle + turn), head[1] - 14 * Math.sin(angle + turn)); ctx.stroke();
  }
  if (text) ctx.fillText(text, tail[0], tail[1]);
}

function tag(ctx, text, [x, y], width) {
  ctx.font = `${Math.max(11, Math.round(width / 80))}px sans-serif`;
  const w = ctx.measureText(text).width + 8;
  const h = Math.max(14, width / 60);
  ctx.fillStyle = "rgba(24,24,24,0.85)"; ctx.fillRect(x, y - h, w, h);
  ctx.fillStyle = "#fff"; ctx.fillText(text, x + 4, y - 4);
}

// Panels, step cards and notices sit in screen space, stacked in the bottom-left corner.
function drawScreenItems(ctx, items, width, height) {
  const size = Math.max(11, Math.round(width / 85));
  let y = height - 8;
  for (const { shape, s, rgb } of items.reverse()) {
    const lines = shape === "panel" ? [s.title ?? "", ...(s.rows ?? []).map((r) => `${r.rank} ${r.text}  ${r.value}`)]
      : shape === "notice" ? [s.text ?? ""] : [`${s.step}/${s.total} ${s.instruction ?? ""}`, s.warning ?? ""];
    const shown = lines.filter((l) => l);
    const h = shown.length * (size + 4) + 8;
    y -= h;
    ctx.font = `${size}px sans-serif`;
    const w = Math.min(width * 0.45, Math.max(...shown.map((l) => ctx.measureText(l).width)) + 16);
    ctx.fillStyle = "rgba(28,28,28,0.8)"; ctx.fillRect(8, y, w, h);
    ctx.fillStyle = rgb;
    shown.forEach((line, i) => ctx.fillText(line, 16, y + 4 + (i + 1) * (size + 4) - 4, w - 16));
    y -= 6;
  }
}

export function highlight(ctx, boxes, width, height) {
  ctx.save();
  ctx.strokeStyle = "#ffff00"; ctx.lineWidth = 3; ctx.fillStyle = "rgba(255,255,0,0.18)";
  for (const b of boxes) {
    const [x0, y0] = [(b.x0 ?? 0) * width, (b.y0 ?? 0) * height];
    const [w, h] = [((b.x1 ?? 0) - (b.x0 ?? 0)) * width, ((b.y1 ?? 0) - (b.y0 ?? 0)) * height];
    ctx.fillRect(x0, y0, w, h); ctx.strokeRect(x0, y0, w, h);
  }
  ctx.restore();
}

