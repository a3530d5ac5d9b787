// The viewer's side panels: per-question latency (table and chart), bandwidth, connection stats and the
// transcript. Fed by the event stream's STATS records and messages, or by a recording's timeline.

import { timeChart } from "./charts.js";

const HOPS = ["capture", "uplink", "reasoning", "downlink", "render"];
const WINDOW_S = 60;

export class Telemetry {
  constructor(el) {
    this.el = el;                 // { latency, bandwidth, latencyTable, connection }
    this.records = [];            // latency records (cloud clock, ns), oldest first
    this.bandwidth = [];          // { t, v } kbit/s
    this.last = null;             // { t, bytes } of the previous STATS
    this.now_s = 0;
  }

  stats(stats) {
    const t = stats.now_ns / 1e9;
    this.now_s = t;
    const bytes = stats.transport_bytes_in ?? stats.bytes_in;
    if (this.last && t > this.last.t) this.bandwidth.push({ t, v: ((bytes - this.last.bytes) * 8) / 1000 / (t - this.last.t) });
    this.last = { t, bytes };
    if (this.bandwidth.length > 600) this.bandwidth.shift();
    this.records.push(...(stats.latency ?? []));
    if (this.records.length > 256) this.records.splice(0, this.records.length - 256);
    if (stats.connection) connectionTable(this.el.connection, stats.connection);
  }

  // A recording holds no Acks: what the cloud itself timed of an overlay (reasoning), at log time t_ns.
  recorded(overlay, t_ns) {
    const hops = overlay.hops ?? {};
    const reasoning = (hops.overlay_sent_ns ?? 0) - (hops.received_ns ?? 0);
    if (!hops.received_ns || reasoning < 0) return;
    this.records = this.records.filter((r) => r.overlay_id !== overlay.overlay_id);
    this.records.push({ overlay_id: overlay.overlay_id, rendered_ns: t_ns, shared_clock: true,
      hops_ms: { reasoning: reasoning / 1e6 } });
  }

  // overlays: overlay_id -> Overlay; questions: query_id -> { text, mode }; origin_s: a recording's start
  render(overlays, questions, origin_s = null) {
    const series = Object.fromEntries(HOPS.map((h) => [h, []]));
    series.total = [];
    for (const r of this.records) {
      const t = r.rendered_ns / 1e9;
      let total = 0;
      for (const h of HOPS) { series[h].push({ t, v: r.hops_ms[h] }); total += r.hops_ms[h] ?? 0; }
      series.total.push({ t, v: total });
    }
    const window_s = Math.max(10, Math.min(WINDOW_S, this.now_s - (this.records[0]?.rendered_ns ?? 0) / 1e9 + 2));
    const recorded = origin_s !== null;
    const axis = recorded ? { relative: false, origin_s, timeLabel: "seconds into the recording" }
      : { relative: true, timeLabel: "seconds ago (rendered)" };
    timeChart(this.el.latency, series, { unit: "ms", window_s, now_s: this.now_s, ...axis });
    if (!recorded) {
      timeChart(this.el.bandwidth, { "in kbit/s": this.bandwidth }, { unit: "kbit/s", window_s: WINDOW_S,
        now_s: this.now_s, relative: true, timeLabel: "seconds ago" });
    }
    latencyTable(this.el.latencyTable, this.records, overlays, questions);
  }
}

// One row per question (its latest overlay that was drawn): which question, and each hop in ms.
export function latencyTable(tbody, records, overlays, questions) {
  if (!tbody) return;
  const byOverlay = new Map();
  for (const r of records) byOverlay.set(r.overlay_id, r);
  const rows = [...byOverlay.values()].map((r) => {
    const overlay = overlays.get(r.overlay_id);
    const queryId = overlay?.query_id || r.overlay_id;
    const q = questions.get(queryId);
    const total = HOPS.reduce((sum, h) => sum + (r.hops_ms[h] ?? 0), 0);
    const tr = document.createElement("tr");
    tr.dataset.overlay = r.overlay_id;
    const cells = [q?.text ?? queryId, q?.mode ?? "", ...HOPS.map((h) => r.hops_ms[h]?.toFixed(1) ?? "–"),
      total.toFixed(1)];
    tr.replaceChildren(...cells.map((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i >= 2) td.className = "num";
      return td;
    }));
    if (!r.shared_clock) tr.title = "downlink and render estimated from the round trip (the edge has its own clock)";
    return tr;
  });
  tbody.replaceChildren(...rows);
}

export function connectionTable(el, c) {
  if (!el) return;
  const via = { sctp: " (data channel, smoothed)", rtcp: " (RTCP)" }[c.rtt_source] ?? "";
  const rtt = c.rtt_ms === null || c.rtt_ms === undefined ? `– (${c.rtt_note})` : `${c.rtt_ms} ms${via}`;
  const loss = c.loss_percent === null || c.loss_percent === undefined ? "– (not reported)"
    : `${c.loss_percent}% (${c.packets_lost} of ${c.packets_received + c.packets_lost} packets)`;
  const rows = [["transport", c.transport], ["ICE state", c.ice_state ?? "– (no ICE: gRPC over TCP)"],
    ["connection", c.connection_state ?? "–"], ["RTT", rtt], ["loss", loss],
    ["jitter", c.jitter_ms === null || c.jitter_ms === undefined ? "–" : `${c.jitter_ms} ms`]];
  el.replaceChildren(...rows.map(([name, value]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = name;
    const td = document.createElement("td"); td.textContent = String(value); td.dataset.stat = name;
    tr.append(th, td);
    return tr;
  }));
}

// Questions and their answers in order, and what the cloud heard.
export class Transcript {
  constructor(list) {
    this.list = list;
    this.entries = new Map();     // query_id or utterance key -> { question, answer, heard }
  }

  question(q) { this.#entry(q.query_id).question = q; this.render(); }
  answer(a) { this.#entry(a.query_id ?? "").answer = a; this.render(); }
  heard(u) { this.#entry(`heard-${u.utterance_id || u.start_ns || this.entries.size}`).heard = u; this.render(); }

  #entry(key) {
    if (!this.entries.has(key)) this.entries.set(key, {});
    return this.entries.get(key);
  }

  render() {
    if (!this.list) return;
    const items = [];
    for (const [key, e] of this.entries) {
      const li = document.createElement("li");
      li.dataset.query = key;
      const lines = [];
      if (e.heard) lines.push(["heard", e.heard.text ?? ""]);
      if (e.question) lines.push(["asked", `${e.question.text} (${e.question.mode})`]);
      if (e.answer) lines.push([e.answer.proactive ? "offered" : e.answer.final ? "answer" : "provisional",
        e.answer.offer ? `${e.answer.offer} ${e.answer.text ?? ""}` : e.answer.text ?? ""]);
      if (e.answer?.timing) lines.push(["timing", timingText(e.answer.timing)]);
      for (const [who, text] of lines) {
        const line = document.createElement("div");
        line.className = `said ${who}`;
        line.textContent = `${who}: ${text}`;
        li.append(line);
      }
      items.push(li);
    }
    this.list.replaceChildren(...items);
  }
}

// Where an answer's time went on the cloud: "ocr 512 ms · reasoning 9 ms ... of 530 ms (warm)".
export function timingText(timing) {
  const ms = (us) => `${Math.round((us ?? 0) / 1000)} ms`;
  const stages = (timing.stages ?? []).map((s) => `${s.stage} ${ms(s.us)}`).join(" · ");
  return `${stages} of ${ms(timing.total_us)}${timing.warm ? "" : " (cold: OCR models loaded inside)"}`;
}
