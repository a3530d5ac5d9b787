// Time-series charts for the viewer: a time axis in seconds (ago, or into a recording), a value axis with its
// unit, tick labels on both, and every sample drawn as a point joined by lines, so a single sample is visible.

const COLOURS = ["#3caaff", "#ff00ff", "#50dc3c", "#ff8c00", "#e1e1e1", "#ffd700"];
const PAD = { left: 46, right: 8, top: 32, bottom: 26 };

// series: { name: [{ t: seconds, v: value }] }; options: { unit, window_s, now_s, timeLabel }
export function timeChart(canvas, series, options) {
  if (!canvas) return;
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const nowS = options.now_s;
  const fromS = nowS - options.window_s;
  const values = Object.values(series).flat().filter((p) => p.t >= fromS && Number.isFinite(p.v));
  const top = niceTop(Math.max(0, ...values.map((p) => p.v)));
  const plot = { x: PAD.left, y: PAD.top, w: width - PAD.left - PAD.right, h: height - PAD.top - PAD.bottom };
  const px = (t) => plot.x + ((t - fromS) / options.window_s) * plot.w;
  const py = (v) => plot.y + plot.h - (v / top) * plot.h;
  axes(ctx, plot, top, options, px, fromS, nowS);
  Object.entries(series).forEach(([name, points], i) => {
    const shown = points.filter((p) => p.t >= fromS && Number.isFinite(p.v));
    ctx.strokeStyle = ctx.fillStyle = COLOURS[i % COLOURS.length];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    shown.forEach((p, k) => (k === 0 ? ctx.moveTo(px(p.t), py(p.v)) : ctx.lineTo(px(p.t), py(p.v))));
    ctx.stroke();
    for (const p of shown) { ctx.beginPath(); ctx.arc(px(p.t), py(p.v), 2.5, 0, 2 * Math.PI); ctx.fill(); }
    const last = shown.at(-1);
    ctx.font = "11px sans-serif";
    ctx.fillText(`${name} ${last === undefined ? "–" : last.v.toFixed(1)}`, plot.x + (i % 3) * (plot.w / 3),
      11 + Math.floor(i / 3) * 12);
  });
}

function axes(ctx, plot, top, options, px, fromS, nowS) {
  ctx.strokeStyle = "#666"; ctx.fillStyle = "#aaa"; ctx.lineWidth = 1; ctx.font = "10px sans-serif";
  ctx.beginPath();
  ctx.moveTo(plot.x, plot.y); ctx.lineTo(plot.x, plot.y + plot.h); ctx.lineTo(plot.x + plot.w, plot.y + plot.h);
  ctx.stroke();
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4, y = plot.y + plot.h - (k / 4) * plot.h;
    ctx.fillText(formatValue(v), plot.x - 4, y);
    ctx.strokeStyle = "#2a2a2a"; ctx.beginPath(); ctx.moveTo(plot.x + 1, y); ctx.lineTo(plot.x + plot.w, y); ctx.stroke();
  }
  ctx.save(); ctx.translate(10, plot.y + plot.h / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center";
  ctx.fillText(options.unit, 0, 0); ctx.restore();
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  const step = tickStep(options.window_s);
  // Ticks at round numbers of the axis itself: seconds before now, or seconds into the recording.
  const origin = options.relative ? nowS : options.origin_s ?? 0;
  const first = Math.ceil((fromS - origin) / step - 1e-9) * step;
  for (let label = first; origin + label <= nowS + 1e-9; label += step) {
    const x = px(origin + label);
    ctx.strokeStyle = "#666"; ctx.beginPath(); ctx.moveTo(x, plot.y + plot.h); ctx.lineTo(x, plot.y + plot.h + 3); ctx.stroke();
    ctx.fillText(`${Math.round(label)}`, x, plot.y + plot.h + 4);
  }
  ctx.textAlign = "right";
  ctx.fillText(options.timeLabel ?? "time (s)", plot.x + plot.w, plot.y + plot.h + 14);
  ctx.textAlign = "start"; ctx.textBaseline = "alphabetic";
}

function niceTop(max) {
  if (max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (max * 1.1 <= m * magnitude) return m * magnitude;
  return 10 * magnitude;
}

function tickStep(windowS) {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300]) if (windowS / s <= 8) return s;
  return 600;
}

function formatValue(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(0) : v.toFixed(1);
}
