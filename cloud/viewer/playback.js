// Playing a cloud recording back in the page: a timeline to scrub, pause and seek. The recording comes from
// /api/recordings/{name} as a timeline (camera frames by seq and time; the session's messages as CloudMessage
// protobufs; the questions asked); a seek replays every message up to that time into a fresh scene, so what
// shows at any time is what a viewer watching live would have seen then.

import { $, Scene } from "./scene.js";

export class Playback extends Scene {
  constructor(codec, data, api) {
    const frameUrl = (seq) => `/api/recordings/${encodeURIComponent(data.name)}/frames/${seq}`;
    super(codec, (seq) => api(frameUrl(seq)).then((r) => r.blob()));
    this.api = api;
    this.frameUrl = frameUrl;
    this.name = data.name;
    this.start = data.start_ns;
    this.duration_ms = Math.max(0, (data.end_ns - data.start_ns) / 1e6);
    this.events = [...data.events].sort((a, b) => a.t_ns - b.t_ns);
    this.frames = data.frames;
    this.applied = 0;               // events applied so far
    this.pictureSeq = null;
    this.playing = false;
    this.t_ms = 0;
    const timeline = $("timeline");
    timeline.max = String(Math.ceil(this.duration_ms));
    timeline.oninput = () => this.seek(Number(timeline.value));
    $("play").onclick = () => (this.playing ? this.pause() : this.resume());
    $("playback").hidden = false;
    $("connection").replaceChildren();
    $("bandwidth").getContext("2d").clearRect(0, 0, $("bandwidth").width, $("bandwidth").height);
    this.view.status(`playing back ${data.title}${data.truncated ? " (its complete part: the file is truncated)" : ""}`);
    this.seek(0);
  }

  seek(t_ms) {
    if (t_ms < this.t_ms) { this.reset(); this.applied = 0; }
    this.t_ms = Math.max(0, Math.min(this.duration_ms, t_ms));
    const until = this.start + this.t_ms * 1e6;
    while (this.applied < this.events.length && this.events[this.applied].t_ns <= until) {
      this.#apply(this.events[this.applied++]);
    }
    const frame = this.frames.filter((f) => f.t_ns <= until).at(-1) ?? this.frames[0];
    if (frame && frame.seq !== this.pictureSeq) this.#picture(frame.seq);
    this.telemetry.now_s = until / 1e9;
    this.telemetry.render(this.view.overlays, this.questions, this.start / 1e9);
    $("timeline").value = String(Math.round(this.t_ms));
    $("clock").textContent = `${(this.t_ms / 1000).toFixed(1)} s / ${(this.duration_ms / 1000).toFixed(1)} s`;
  }

  #apply(event) {
    if (event.kind === "question") {
      this.question({ query_id: event.query_id, text: event.text,
        mode: (event.mode ?? "").replace("MODE_", "").toLowerCase() });
    } else if (event.kind === "message") {
      const bytes = Uint8Array.from(atob(event.message), (c) => c.charCodeAt(0));
      const message = this.codec.decode("CloudMessage", bytes);
      this.message(message);
      if (message.overlay) this.telemetry.recorded(message.overlay, event.t_ns);
    }
  }

  async #picture(seq) {
    this.pictureSeq = seq;
    const cached = this.frozen.frames.get(seq);
    if (cached) { this.#draw(cached); return; }
    const blob = await (await this.api(this.frameUrl(seq))).blob();
    await this.showKeyframe(seq, blob);
  }

  #draw(bitmap) {
    const canvas = $("keyframe");
    canvas.width = bitmap.width; canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    this.picture = bitmap;
  }

  resume() {
    if (this.t_ms >= this.duration_ms) this.seek(0);
    this.playing = true;
    $("play").textContent = "Pause";
    let last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      this.seek(this.t_ms + (now - last));
      last = now;
      if (this.t_ms >= this.duration_ms) this.pause(); else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  pause() {
    this.playing = false;
    $("play").textContent = "Play";
  }

  stop() { this.pause(); }
}
