// The browser as the glasses: the camera goes up as a WebRTC video track (the cloud decodes sampled track
// frames as keyframes), questions and the cloud's answers travel as protobuf on the "eyeline" data channel.
// The page has no edge to redact for it: the cloud destroys the faces in the track as it arrives
// (cloud/ingress/redacted_track.py), and the page's #privacy text tells the wearer so.

import { loadCodec } from "./proto.js";
import { SessionView, nowNs } from "./session.js";
import { tokenInput } from "./token.js";
import { WorldLock } from "./worldlock.js";

const $ = (id) => document.getElementById(id);
const token = tokenInput($("token"));
let glasses = null;

class Glasses {
  constructor(codec, view) {
    this.codec = codec;
    this.view = view;
    this.queries = 0;
    this.resource = null;
    this.rendered = [];          // drawn overlays not yet reported to the cloud (at most 64 kept)
    view.onRendered = (drawn) => this.#drawn(drawn);
  }

  // The cloud's latency graph needs what was drawn when; this page's clock is its own, so it reports
  // arrival and rendering in it and the cloud places them by the round trip (eyeline.cloud.session.latency).
  #drawn({ overlay, arrived_ns, rendered_ns }) {
    const hops = overlay.hops ?? {};
    this.rendered.push({ trace_id: overlay.trace_id, overlay_id: overlay.overlay_id,
      hops: { ...hops, rendered_ns }, arrived_ns });
    if (this.rendered.length > 64) this.rendered.shift();
    const ms = (a, b) => (a && b && b >= a ? (b - a) / 1e6 : undefined);
    this.view.addLatency({ reasoning: ms(hops.received_ns, hops.overlay_sent_ns), render: ms(arrived_ns, rendered_ns) });
  }

  #report() {
    if (!this.rendered.length || this.channel?.readyState !== "open") return;
    const rendered = this.rendered.splice(0);
    this.#send({ ack: { overlays_rendered: rendered.length, rendered, sent_ns: nowNs() } });
  }

  async start(stream) {
    this.pc = new RTCPeerConnection({ iceServers: iceServers() });
    this.channel = this.pc.createDataChannel("eyeline", { ordered: true });
    this.channel.binaryType = "arraybuffer";
    this.channel.onopen = () => this.#hello(stream);
    this.channel.onmessage = (e) => this.view.handle(this.codec.decode("CloudMessage", new Uint8Array(e.data)));
    this.channel.onclose = () => this.view.status("closed");
    const sender = this.pc.addTransceiver(stream.getVideoTracks()[0], { direction: "sendonly" }).sender;
    const params = sender.getParameters();
    params.degradationPreference = "maintain-resolution";
    params.encodings = [{ ...(params.encodings?.[0] ?? {}), maxBitrate: 8_000_000 }];
    await sender.setParameters(params).catch(() => {});
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gathered(this.pc);
    const response = await fetch("/whip?track=keyframes", {
      method: "POST", body: this.pc.localDescription.sdp,
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token()}` },
    });
    if (response.status !== 201) throw new Error(`WHIP: HTTP ${response.status}: ${await response.text()}`);
    this.resource = response.headers.get("Location");
    await this.pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    this.#measure();
    this.reporter = setInterval(() => this.#report(), 500);
  }

  #hello(stream) {
    const settings = stream.getVideoTracks()[0].getSettings();
    this.#send({ hello: { profile: { name: "browser", width: settings.width, height: settings.height,
      fps: settings.frameRate ?? 30, has_display: true }, mode: Number($("mode").value),
      capabilities: $("proactive").checked ? ["overlay", "proactive"] : ["overlay"],
      client_version: "eyeline-browser/0.1" } });
    this.view.status("connected");
  }

  ask(text, mode) {
    this.queries += 1;
    this.#send({ query: { query_id: `b${this.queries}`, text, mode } });
  }

  #send(message) {
    this.channel.send(this.codec.encode("EdgeMessage", message));
  }

  // Outbound video bitrate from the peer connection's own statistics, once a second.
  #measure() {
    let last = null;
    this.timer = setInterval(async () => {
      const stats = await this.pc.getStats();
      stats.forEach((s) => {
        if (s.type !== "outbound-rtp" || s.kind !== "video") return;
        if (last) this.view.addBandwidth(((s.bytesSent - last.bytes) * 8) / (s.timestamp - last.at));
        last = { bytes: s.bytesSent, at: s.timestamp };
      });
      this.view.plot();
    }, 1000);
  }

  hangUp() {
    clearInterval(this.timer);
    clearInterval(this.reporter);
    if (this.resource) {
      fetch(this.resource, { method: "DELETE", keepalive: true, headers: { Authorization: `Bearer ${token()}` } });
      this.resource = null;
    }
    this.pc?.close();
  }
}

function iceServers() {
  const urls = new URLSearchParams(location.hash.slice(1)).getAll("ice");
  return urls.map((url) => ({ urls: url }));
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

// The camera picture is the canvas's background: every animation frame draws the current camera frame, then
// the overlays in the frame's normalized coordinates on top, moved with the world and faded when it leaves the
// view (worldlock.js). The <video> only decodes the camera; it must be playing (a paused one draws nothing).
function paint(video, view) {
  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  const lock = new WorldLock();
  view.onOverlay = () => { if (video.readyState >= video.HAVE_CURRENT_DATA) lock.anchor(video); };
  const frame = (nowMs) => {
    if (video.videoWidth && (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight)) {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    }
    const live = video.readyState >= video.HAVE_CURRENT_DATA;
    if (live) ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    else { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
    const placed = live ? lock.follow(video, nowMs) : { x: 0, y: 0, alpha: 1 };
    ctx.save();
    ctx.globalAlpha = placed.alpha;
    ctx.translate(placed.x * canvas.width, placed.y * canvas.height);
    view.draw(ctx, canvas.width, canvas.height);
    ctx.restore();
    window.eyelinePlaced = placed;   // what the page did this frame, for tests and debugging
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

// The rear camera on a phone ("environment"), any camera elsewhere; 1280x720 where the camera offers it.
const CAMERA = { video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
  audio: false };

async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("the camera needs a secure origin: open this page over https (eyeline cloud --tls-cert)");
  }
  const stream = await navigator.mediaDevices.getUserMedia(CAMERA);
  video.srcObject = stream;
  await video.play();
  return stream;
}

$("start").addEventListener("click", async () => {
  try {
    const codec = await loadCodec(token());
    const view = new SessionView(codec, { trace: $("trace"), answer: $("answer"), status: $("status"),
      latency: $("latency"), bandwidth: $("bandwidth") });
    const video = $("camera");
    const stream = await openCamera(video);
    paint(video, view);
    glasses = new Glasses(codec, view);
    await glasses.start(stream);
  } catch (error) {
    $("status").textContent = `error: ${error.message}`;
  }
});

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("question").value.trim();
  if (glasses && text) glasses.ask(text, Number($("mode").value));
});

window.addEventListener("pagehide", () => glasses?.hangUp());
