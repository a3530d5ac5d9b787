// The developer viewer: lists live sessions, watches one through the cloud's event stream (length-prefixed
// CloudMessage protobufs), and draws its overlays on the very frame they were computed on.

import { framedMessages, loadCodec } from "./proto.js";
import { SessionView } from "./session.js";
import { tokenInput } from "./token.js";

const $ = (id) => document.getElementById(id);
const token = tokenInput($("token"));
const auth = () => ({ Authorization: `Bearer ${token()}` });
let watching = null;

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth(), ...(options.headers ?? {}) } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}: ${await response.text()}`);
  return response;
}

async function image(path) {
  return createImageBitmap(await (await api(path)).blob());
}

class Watch {
  constructor(codec, sessionId) {
    this.id = sessionId;
    this.view = new SessionView(codec, { trace: $("trace"), answer: $("answer"), status: $("status"),
      latency: $("latency"), bandwidth: $("bandwidth") });
    this.codec = codec;
    this.frames = new Map();       // frame_seq -> the image that overlay was computed on
    this.preview = null;
    this.lastBytes = null;
    this.controller = new AbortController();
    this.view.onOverlay = (overlay) => this.#fetchFrame(overlay.frame_seq);
    this.view.status(`watching ${sessionId}`);
  }

  async run() {
    const path = `/api/sessions/${this.id}/events`;
    const response = await api(path, { signal: this.controller.signal });
    for await (const raw of framedMessages(response.body)) this.view.handle(this.codec.decode("CloudMessage", raw));
    this.view.status(`session ${this.id} ended`);
  }

  async #fetchFrame(seq) {
    if (this.frames.has(seq)) return;
    try {
      this.frames.set(seq, await image(`/api/sessions/${this.id}/frames/${seq}`));
    } catch (error) {
      this.view.status(`frame ${seq}: ${error.message}`);
    }
  }

  async refreshPreview() {
    try { this.preview = await image(`/api/sessions/${this.id}/preview`); } catch { /* no frame yet */ }
  }

  paint(ctx, canvas) {
    const overlay = this.view.latestOverlay();
    const pinned = overlay && !$("live").checked ? this.frames.get(overlay.frame_seq) : null;
    const picture = pinned ?? this.preview;
    if (!picture) return;
    if (canvas.width !== picture.width || canvas.height !== picture.height) {
      canvas.width = picture.width; canvas.height = picture.height;
    }
    ctx.drawImage(picture, 0, 0);
    this.view.draw(ctx, canvas.width, canvas.height, pinned ? overlay.frame_seq : null);
  }

  bytesIn(total) {
    if (total === null || total === undefined) return;
    if (this.lastBytes !== null) this.view.addBandwidth(((total - this.lastBytes) * 8) / 1000);
    this.lastBytes = total;
  }

  stop() { this.controller.abort(); }
}

async function refreshSessions() {
  const { sessions } = await (await api("/api/sessions")).json();
  const list = $("sessions");
  list.replaceChildren(...sessions.map((s) => {
    const li = document.createElement("li");
    li.dataset.session = s.session_id;
    li.textContent = `${s.session_id} — ${s.subject} (${s.profile}, ${s.transport}, ${s.frames} frames)`;
    li.classList.toggle("watching", watching?.id === s.session_id);
    li.addEventListener("click", () => watch(s.session_id));
    if (watching?.id === s.session_id) watching.bytesIn(s.bytes_in);
    return li;
  }));
  watching?.view.plot();
}

async function watch(sessionId) {
  watching?.stop();
  const codec = await loadCodec(token());
  watching = new Watch(codec, sessionId);
  watching.run().catch((error) => { if (error.name !== "AbortError") $("status").textContent = error.message; });
}

function paintLoop() {
  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  const frame = () => { watching?.paint(ctx, canvas); requestAnimationFrame(frame); };
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
setInterval(() => watching?.refreshPreview(), 500);
paintLoop();
const wanted = new URLSearchParams(location.hash.slice(1)).get("session");
if (wanted) watch(wanted).catch((error) => { $("status").textContent = error.message; });
