// The developer viewer: lists live sessions and watches one. A WebRTC session's live video comes WHEP-style
// (a receive-only offer to /api/sessions/{id}/watch); a gRPC session's keyframes are pushed on the event stream
// as they arrive. The event stream also carries the session's messages, its bandwidth and per-hop latency.
// Overlays are drawn on a canvas laid over the picture's content rectangle (letterboxing included).

import { framedRecords, loadCodec } from "./proto.js";
import { SessionView } from "./session.js";
import { tokenInput } from "./token.js";

const $ = (id) => document.getElementById(id);
const token = tokenInput($("token"));
const auth = () => ({ Authorization: `Bearer ${token()}` });
const MESSAGE = 0, KEYFRAME = 1, STATS = 2;
let watching = null;

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth(), ...(options.headers ?? {}) } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}: ${await response.text()}`);
  return response;
}

class Watch {
  constructor(codec, session) {
    this.id = session.session_id;
    this.view = new SessionView(codec, { trace: $("trace"), answer: $("answer"), status: $("status"),
      latency: $("latency"), bandwidth: $("bandwidth") });
    this.codec = codec;
    this.keyframe = null;          // the latest pushed keyframe (sessions without live video)
    this.lastBytes = null;
    this.controller = new AbortController();
    this.view.status(`watching ${this.id}`);
    if (session.live_video) this.startVideo().catch((error) => this.view.status(`live video: ${error.message}`));
  }

  async run() {
    const response = await api(`/api/sessions/${this.id}/events`, { signal: this.controller.signal });
    for await (const { kind, payload } of framedRecords(response.body)) {
      if (kind === MESSAGE) this.view.handle(this.codec.decode("CloudMessage", payload));
      else if (kind === KEYFRAME) await this.#keyframe(payload);
      else if (kind === STATS) this.#stats(JSON.parse(new TextDecoder().decode(payload)));
    }
    this.view.status(`session ${this.id} ended`);
  }

  async #keyframe(payload) {
    const bitmap = await createImageBitmap(new Blob([payload.subarray(8)], { type: "image/jpeg" }));
    const canvas = $("keyframe");
    canvas.width = bitmap.width; canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    this.keyframe = bitmap;
  }

  #stats(stats) {
    const total = stats.transport_bytes_in ?? stats.bytes_in;
    if (this.lastBytes !== null) this.view.addBandwidth(((total - this.lastBytes) * 8) / 1000);
    this.lastBytes = total;
    for (const record of stats.latency) this.view.addLatency(record.hops_ms);
    this.view.plot();
  }

  async startVideo() {
    this.pc = new RTCPeerConnection();
    this.pc.addTransceiver("video", { direction: "recvonly" });
    this.pc.ontrack = (event) => { $("video").srcObject = new MediaStream([event.track]); };
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gathered(this.pc);
    const response = await api(`/api/sessions/${this.id}/watch`, { method: "POST",
      headers: { "Content-Type": "application/sdp" }, body: this.pc.localDescription.sdp });
    this.resource = response.headers.get("Location");
    await this.pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  }

  // The picture is the live video once it plays, else the latest keyframe; the overlay canvas covers exactly
  // the picture's content rectangle, at the picture's own resolution.
  paint() {
    const video = $("video");
    const live = video.videoWidth > 0;
    const [width, height] = live ? [video.videoWidth, video.videoHeight]
      : this.keyframe ? [this.keyframe.width, this.keyframe.height] : [0, 0];
    $("keyframe").hidden = live;
    if (!width) return;
    const canvas = $("view");
    place(canvas, $("picture"), width, height);
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    this.view.draw(ctx, width, height);
  }

  stop() {
    this.controller.abort();
    if (this.resource) {
      fetch(this.resource, { method: "DELETE", keepalive: true, headers: auth() });
      this.resource = null;
    }
    this.pc?.close();
    $("video").srcObject = null;
  }
}

// Letterboxing: where a width x height picture shows inside box with object-fit: contain.
function place(canvas, box, width, height) {
  const scale = Math.min(box.clientWidth / width, box.clientHeight / height);
  const [w, h] = [width * scale, height * scale];
  Object.assign(canvas.style, { left: `${(box.clientWidth - w) / 2}px`, top: `${(box.clientHeight - h) / 2}px`,
    width: `${w}px`, height: `${h}px` });
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

let known = [];

async function refreshSessions() {
  const { sessions } = await (await api("/api/sessions")).json();
  known = sessions;
  const list = $("sessions");
  list.replaceChildren(...sessions.map((s) => {
    const li = document.createElement("li");
    li.dataset.session = s.session_id;
    li.textContent = `${s.session_id} — ${s.subject} (${s.profile}, ${s.transport}, ${s.frames} frames)`;
    li.classList.toggle("watching", watching?.id === s.session_id);
    li.addEventListener("click", () => watch(s.session_id));
    return li;
  }));
}

async function watch(sessionId) {
  watching?.stop();
  if (!known.some((s) => s.session_id === sessionId)) await refreshSessions();
  const session = known.find((s) => s.session_id === sessionId);
  if (!session) throw new Error(`no live session ${sessionId}`);
  const codec = await loadCodec(token());
  watching = new Watch(codec, session);
  watching.run().catch((error) => { if (error.name !== "AbortError") $("status").textContent = error.message; });
}

function paintLoop() {
  const frame = () => { watching?.paint(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
}

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("question").value.trim();
  if (!watching || !text) return;
  try {
    await api(`/api/sessions/${watching.id}/query`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, mode: $("mode").value }) });
  } catch (error) { $("status").textContent = error.message; }
});

setInterval(() => refreshSessions().catch((error) => { $("status").textContent = error.message; }), 1000);
window.addEventListener("pagehide", () => watching?.stop());
paintLoop();
const wanted = new URLSearchParams(location.hash.slice(1)).get("session");
if (wanted) watch(wanted).catch((error) => { $("status").textContent = error.message; });
