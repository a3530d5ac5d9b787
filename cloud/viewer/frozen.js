// The frozen keyframe panel: an overlay is drawn on the very keyframe it was computed on (Overlay.frame_seq), and
// a hovered trace step's evidence on the keyframe that step read (TraceStep.frame_seq), never on whatever the
// live picture shows now. Keyframes come pushed on the event stream, or are fetched by seq from the cloud
// (/api/sessions/{id}/frames/{seq}, or a recording's frames), and a few are kept by seq.

import { drawOverlay, highlight } from "./draw.js";

const KEPT = 24;

export class FrozenPanel {
  // fetchFrame(seq) -> Promise<Blob>
  constructor(canvas, caption, fetchFrame) {
    this.canvas = canvas;
    this.caption = caption;
    this.fetchFrame = fetchFrame;
    this.frames = new Map();      // seq -> ImageBitmap
    this.loading = new Map();     // seq -> Promise
    this.seq = null;              // the keyframe shown
    this.pinned = null;           // the seq a hovered step asks for, over the latest overlay's
  }

  async remember(seq, blob) {
    const bitmap = await createImageBitmap(blob);
    this.frames.set(seq, bitmap);
    while (this.frames.size > KEPT) this.frames.delete(this.frames.keys().next().value);
    return bitmap;
  }

  // Show keyframe seq (the latest overlay's), loading it if it is not here yet.
  show(seq) {
    this.seq = seq;
    this.#load(seq);
  }

  pin(seq) { this.pinned = seq; if (seq !== null) this.#load(seq); }

  #load(seq) {
    if (seq === null || seq === undefined || this.frames.has(seq) || this.loading.has(seq)) return;
    const loading = this.fetchFrame(seq).then((blob) => this.remember(seq, blob))
      .catch((error) => { this.caption.textContent = `keyframe ${seq}: ${error.message}`; })
      .finally(() => this.loading.delete(seq));
    this.loading.set(seq, loading);
  }

  // view: the SessionView whose overlays and hovered step are drawn.
  paint(view) {
    const seq = this.pinned ?? this.seq;
    const bitmap = seq === null ? undefined : this.frames.get(seq);
    const canvas = this.canvas;
    if (!bitmap) {
      if (seq === null) this.caption.textContent = "no overlay yet";
      return;
    }
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width; canvas.height = bitmap.height;
    }
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    const overlays = [...view.overlays.values()].filter((o) => (o.frame_seq ?? 0) === seq);
    const latest = overlays.at(-1);
    if (latest) drawOverlay(ctx, latest, canvas.width, canvas.height);
    const step = view.hovered;
    const lit = step && (step.frame_seq ?? 0) === seq ? step.evidence ?? [] : [];
    highlight(ctx, lit, canvas.width, canvas.height);
    canvas.dataset.seq = String(seq);
    canvas.dataset.overlay = latest?.overlay_id ?? "";
    this.caption.textContent = `keyframe ${seq}` + (latest ? ` · overlay ${latest.overlay_id}` : "") +
      (lit.length ? ` · evidence of step ${step.index ?? 0}` : "");
  }
}
