// What both pages show of one session: overlays over the picture, the trace with hoverable evidence,
// the answer, and the per-hop latency and bandwidth graphs.

import { drawOverlay, highlight } from "./draw.js";

const HISTORY = 60;

export class SessionView {
  constructor(codec, elements) {
    this.codec = codec;
    this.el = elements;           // { trace, answer, status, latency, bandwidth }
    this.overlays = new Map();
    this.steps = [];
    this.hovered = null;
    this.latency = { capture: [], uplink: [], reasoning: [], downlink: [], render: [] };
    this.bandwidth = [];
    this.arrived = [];            // overlays not drawn yet, with when they arrived (performance.now() in ns)
    this.onOverlay = () => {};
    this.onRendered = () => {};   // ({ overlay, arrived_ns, rendered_ns }) once an overlay is first drawn
    this.stepNames = Object.fromEntries(Object.entries(codec.enums.StepKind)
      .map(([name, value]) => [value, name.replace("STEP_KIND_", "").toLowerCase()]));
  }

  handle(message) {
    if (message.welcome) this.status(`session ${message.welcome.session_id}`);
    if (message.overlay) this.#overlay(message.overlay);
    if (message.trace) this.#step(message.trace);
    if (message.answer) this.el.answer.textContent = message.answer.text ?? "";
    if (message.error) this.status(`error: ${message.error.message ?? ""}`);
  }

  status(text) { this.el.status.textContent = text; }

  #overlay(overlay) {
    this.overlays.set(overlay.overlay_id, overlay);
    this.arrived.push({ overlay, arrived_ns: nowNs() });
    this.onOverlay(overlay);
  }

  #step(step) {
    if (step.index === 0 || step.index === undefined) { this.steps = []; this.el.trace.replaceChildren(); }
    this.steps.push(step);
    const li = document.createElement("li");
    li.className = "step";
    li.dataset.kind = this.stepNames[step.kind ?? 0];
    li.textContent = `${li.dataset.kind}: ${step.text ?? ""}`;
    li.addEventListener("mouseenter", () => { this.hovered = step; li.classList.add("lit"); });
    li.addEventListener("mouseleave", () => { this.hovered = null; li.classList.remove("lit"); });
    this.el.trace.append(li);
  }

  draw(ctx, width, height, frameSeq = null) {
    for (const overlay of this.overlays.values()) {
      if (frameSeq === null || overlay.frame_seq === frameSeq) drawOverlay(ctx, overlay, width, height);
    }
    if (this.hovered) highlight(ctx, this.hovered.evidence ?? [], width, height);
    const rendered_ns = nowNs();
    for (const arrival of this.arrived.splice(0)) this.onRendered({ ...arrival, rendered_ns });
  }

  // One hop record in milliseconds: { capture, uplink, reasoning, downlink, render }, any of them missing.
  addLatency(hopsMs) {
    for (const [name, series] of Object.entries(this.latency)) push(series, hopsMs[name]);
  }

  latestOverlay() {
    return [...this.overlays.values()].at(-1) ?? null;
  }

  addBandwidth(kbps) { push(this.bandwidth, kbps); }

  plot() {
    plot(this.el.latency, this.latency, "ms");
    plot(this.el.bandwidth, { "in kbit/s": this.bandwidth }, "kbit/s");
  }
}

// This page's clock in integer nanoseconds: monotonic, but not the cloud's (see eyeline.cloud.session.latency).
export function nowNs() {
  return Math.round(performance.now() * 1e6);
}

function push(series, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return;
  series.push(value);
  if (series.length > HISTORY) series.shift();
}

const COLOURS = ["#3caaff", "#ff00ff", "#50dc3c", "#ff8c00", "#e1e1e1"];

function plot(canvas, series, unit) {
  if (!canvas) return;
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const all = Object.values(series).flat();
  const top = Math.max(1, ...all) * 1.1;
  ctx.font = "11px sans-serif";
  Object.entries(series).forEach(([name, values], i) => {
    ctx.strokeStyle = ctx.fillStyle = COLOURS[i % COLOURS.length];
    ctx.beginPath();
    values.forEach((v, x) => {
      const px = (x / (HISTORY - 1)) * width, py = height - (v / top) * (height - 14);
      if (x === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.stroke();
    const last = values.at(-1);
    ctx.fillText(`${name} ${last === undefined ? "-" : last.toFixed(1)}`, 4 + (i % 3) * (width / 3),
      11 + Math.floor(i / 3) * 12);
  });
  ctx.fillStyle = "#888"; ctx.fillText(`max ${top.toFixed(0)} ${unit}`, width - 90, height - 3);
}
