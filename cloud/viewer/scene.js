// What the viewer shows of one session, live or played back: the picture (live video, or the latest keyframe),
// the frozen keyframe panel, the trace, answer, transcript, latency and connection panels.

import { drawOverlay } from "./draw.js";
import { FrozenPanel } from "./frozen.js";
import { Telemetry, Transcript } from "./panels.js";
import { SessionView } from "./session.js";

export const $ = (id) => document.getElementById(id);

export class Scene {
  // fetchFrame(seq) -> Promise<Blob>: a keyframe by seq, for the frozen panel.
  constructor(codec, fetchFrame) {
    this.codec = codec;
    this.frozen = new FrozenPanel($("frozen"), $("frozen-caption"), fetchFrame);
    this.picture = null;          // the latest keyframe bitmap, when there is no live video
    this.reset();
  }

  // Forget what was shown (a seek backwards replays from the start); kept keyframes stay cached.
  reset() {
    $("trace").replaceChildren(); $("answer").textContent = ""; $("transcript").replaceChildren();
    this.view = new SessionView(this.codec, { trace: $("trace"), answer: $("answer"), status: $("status"),
      latency: null, bandwidth: null });
    this.view.onOverlay = (overlay) => this.frozen.show(overlay.frame_seq ?? 0);
    this.frozen.seq = null;
    this.telemetry = new Telemetry({ latency: $("latency"), bandwidth: $("bandwidth"),
      latencyTable: $("latency-table"), connection: $("connection") });
    this.transcript = new Transcript($("transcript"));
    this.questions = new Map();
  }

  message(message) {
    this.view.handle(message);
    if (message.answer) this.transcript.answer(message.answer);
    if (message.utterance) this.transcript.heard(message.utterance);
  }

  question(q) {
    this.questions.set(q.query_id, q);
    this.transcript.question(q);
  }

  stats(stats) {
    for (const q of stats.questions ?? []) this.question(q);
    this.telemetry.stats(stats);
    this.telemetry.render(this.view.overlays, this.questions);
  }

  async showKeyframe(seq, blob) {
    const bitmap = await this.frozen.remember(seq, blob);
    const canvas = $("keyframe");
    canvas.width = bitmap.width; canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    this.picture = bitmap;
  }

  // The picture is the live video once it plays, else the latest keyframe; the overlay canvas covers exactly
  // the picture's content rectangle. Overlays go on the live picture only when asked: they were computed on an
  // earlier keyframe, which the frozen panel shows them on.
  paint() {
    const hovered = this.view.hovered;
    this.frozen.pin(hovered ? hovered.frame_seq ?? 0 : null);
    this.frozen.paint(this.view);
    const video = $("video");
    const live = video.videoWidth > 0;
    const [width, height] = live ? [video.videoWidth, video.videoHeight]
      : this.picture ? [this.picture.width, this.picture.height] : [0, 0];
    $("keyframe").hidden = live;
    if (!width) return;
    const canvas = $("view");
    place(canvas, $("picture"), width, height);
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    const latest = this.view.latestOverlay();
    if ($("live-overlays").checked && latest) drawOverlay(ctx, latest, width, height);
  }

  stop() {}
}

// Letterboxing: where a width x height picture shows inside box with object-fit: contain.
function place(canvas, box, width, height) {
  const scale = Math.min(box.clientWidth / width, box.clientHeight / height);
  const [w, h] = [width * scale, height * scale];
  Object.assign(canvas.style, { left: `${(box.clientWidth - w) / 2}px`, top: `${(box.clientHeight - h) / 2}px`,
    width: `${w}px`, height: `${h}px` });
}
