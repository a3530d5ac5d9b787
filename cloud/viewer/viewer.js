// The developer viewer: lists live sessions (by readable name, the id a click away) and the cloud's recordings,
// and watches one session or plays one recording back. A WebRTC session's live video comes WHEP-style (a
// receive-only offer to /api/sessions/{id}/watch); a gRPC session's keyframes are pushed on the event stream,
// which first replays the session's history, so a viewer that joins late sees earlier answers and traces too.
// Overlays and trace evidence are drawn on the keyframe they were computed on (the frozen panel, scene.js).

import { Playback } from "./playback.js";
import { framedRecords, loadCodec } from "./proto.js";
import { $, Scene } from "./scene.js";
import { tokenInput } from "./token.js";

const token = tokenInput($("token"));
const auth = () => ({ Authorization: `Bearer ${token()}` });
const MESSAGE = 0, KEYFRAME = 1, STATS = 2;
let current = null;               // the Watch or Playback on screen

export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth(), ...(options.headers ?? {}) } });
  if (!response.ok) {
    const error = new Error(`${path}: HTTP ${response.status}: ${await response.text()}`);
    error.status = response.status;
    throw error;
  }
  return response;
}

class Watch extends Scene {
  constructor(codec, session) {
    super(codec, (seq) => api(`/api/sessions/${session.session_id}/frames/${seq}`).then((r) => r.blob()));
    this.id = session.session_id;
    this.controller = new AbortController();
    this.view.status(`watching ${session.name}`);
    $("playback").hidden = true;
    if (session.live_video) this.startVideo().catch((error) => this.view.status(`live video: ${error.message}`));
  }

  async run() {
    const response = await api(`/api/sessions/${this.id}/events`, { signal: this.controller.signal });
    for await (const { kind, payload } of framedRecords(response.body)) {
      if (kind === MESSAGE) this.message(this.codec.decode("CloudMessage", payload));
      else if (kind === KEYFRAME) await this.#keyframe(payload);
      else if (kind === STATS) this.stats(JSON.parse(new TextDecoder().decode(payload)));
    }
    this.view.status(`session ${this.id} ended`);
  }

  async #keyframe(payload) {
    const seq = Number(new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0));
    await this.showKeyframe(seq, new Blob([payload.subarray(8)], { type: "image/jpeg" }));
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

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

let known = [];

function item(dataset, title, meta, onClick) {
  const li = document.createElement("li");
  Object.assign(li.dataset, dataset);
  const name = document.createElement("span");
  name.className = "name"; name.textContent = title;
  const small = document.createElement("span");
  small.className = "meta"; small.textContent = meta;
  li.append(name, small);
  li.addEventListener("click", onClick);
  return li;
}

async function refreshSessions() {
  const { sessions } = await (await api("/api/sessions")).json();
  known = sessions;
  $("sessions").replaceChildren(...sessions.map((s) => {
    const li = item({ session: s.session_id }, s.name, `${s.profile} · ${s.transport} · started ` +
      `${Math.round(s.opened_ago_s)} s ago · ${s.frames} frames`, () => watch(s.session_id));
    const copy = document.createElement("button");
    copy.className = "copy"; copy.type = "button"; copy.textContent = "copy id"; copy.title = s.session_id;
    copy.addEventListener("click", (event) => {
      event.stopPropagation();
      navigator.clipboard?.writeText(s.session_id).catch(() => {});
      $("status").textContent = `session id ${s.session_id}`;
    });
    li.querySelector(".name").after(copy);
    li.classList.toggle("watching", current?.id === s.session_id);
    return li;
  }));
}

async function refreshRecordings() {
  const { recordings } = await (await api("/api/recordings")).json();
  $("recordings").replaceChildren(...recordings.map((r) => {
    const li = item({ recording: r.name }, r.title, `${r.profile} · ${(r.size / 1e6).toFixed(1)} MB`,
      () => play(r.name));
    li.classList.toggle("playing", current?.name === r.name);
    return li;
  }));
}

async function watch(sessionId) {
  current?.stop();
  if (!known.some((s) => s.session_id === sessionId)) await refreshSessions();
  const session = known.find((s) => s.session_id === sessionId);
  if (!session) throw new Error(`no live session ${sessionId}`);
  current = new Watch(await loadCodec(token()), session);
  current.run().catch((error) => { if (error.name !== "AbortError") $("status").textContent = error.message; });
}

async function play(name, partial = false) {
  current?.stop();
  current = null;
  try {
    const data = await (await api(`/api/recordings/${encodeURIComponent(name)}${partial ? "?partial=1" : ""}`)).json();
    current = new Playback(await loadCodec(token()), data, api);
  } catch (error) {
    $("status").textContent = error.message;
    if (error.status === 422 && error.message.includes("truncated_recording") && !partial &&
        confirm(`${name} ends mid-record. Play its complete part?`)) await play(name, true);
  }
}

function paintLoop() {
  const frame = () => { current?.paint(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
}

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("question").value.trim();
  if (!(current instanceof Watch) || !text) return;
  try {
    await api(`/api/sessions/${current.id}/query`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, mode: $("mode").value }) });
  } catch (error) { $("status").textContent = error.message; }
});
$("back-live").addEventListener("click", () => { current?.stop(); current = null; $("playback").hidden = true; });

const report = (error) => { $("status").textContent = error.message; };
setInterval(() => refreshSessions().catch(report), 1000);
setInterval(() => refreshRecordings().catch(report), 5000);
refreshRecordings().catch(report);
window.addEventListener("pagehide", () => current?.stop());
paintLoop();
const wanted = new URLSearchParams(location.hash.slice(1));
if (wanted.get("session")) watch(wanted.get("session")).catch(report);
else if (wanted.get("recording")) play(wanted.get("recording")).catch(report);
