// A small protobuf codec driven by the schema the cloud serves at /api/schema (built from the .proto itself,
// so the page and the contract cannot drift). Enough of the wire format for eyeline.v1: varints, 32/64-bit
// floats, length-delimited strings, bytes, messages and packed repeated scalars.

const VARINT = 0, I64 = 1, LEN = 2, I32 = 5;
const NUMERIC = new Set(["int64", "uint64", "int32", "uint32", "enum", "bool", "float", "double"]);

export class Codec {
  constructor(schema) {
    this.messages = schema.messages;
    this.enums = schema.enums;
  }

  encode(type, value) {
    const out = [];
    const fields = this.messages[type];
    for (const [number, field] of Object.entries(fields)) {
      const v = value[field.name];
      if (v === undefined || v === null) continue;
      const values = field.repeated ? v : [v];
      if (field.repeated && NUMERIC.has(field.type)) {
        const packed = [];
        for (const item of values) this.#scalar(packed, field, item);
        pushTag(out, Number(number), LEN);
        pushVarint(out, BigInt(packed.length));
        out.push(...packed);
        continue;
      }
      for (const item of values) this.#field(out, Number(number), field, item);
    }
    return new Uint8Array(out);
  }

  #field(out, number, field, v) {
    if (field.type === "message") {
      const inner = this.encode(field.message, v);
      pushTag(out, number, LEN); pushVarint(out, BigInt(inner.length)); out.push(...inner);
    } else if (field.type === "string" || field.type === "bytes") {
      const bytes = field.type === "string" ? new TextEncoder().encode(v) : v;
      pushTag(out, number, LEN); pushVarint(out, BigInt(bytes.length)); out.push(...bytes);
    } else {
      pushTag(out, number, wireType(field.type));
      this.#scalar(out, field, v);
    }
  }

  #scalar(out, field, v) {
    if (field.type === "float" || field.type === "double") {
      const wide = field.type === "double";
      const view = new DataView(new ArrayBuffer(wide ? 8 : 4));
      if (wide) view.setFloat64(0, v, true); else view.setFloat32(0, v, true);
      out.push(...new Uint8Array(view.buffer));
    } else {
      pushVarint(out, BigInt.asUintN(64, BigInt(typeof v === "boolean" ? Number(v) : Math.trunc(Number(v)))));
    }
  }

  decode(type, bytes) {
    const fields = this.messages[type];
    const reader = new Reader(bytes);
    const value = {};
    while (!reader.done()) {
      const tag = Number(reader.varint());
      const field = fields[String(tag >> 3)];
      const wire = tag & 7;
      if (!field) { reader.skip(wire); continue; }
      if (field.repeated && wire === LEN && NUMERIC.has(field.type)) {
        const packed = new Reader(reader.bytes());
        const list = (value[field.name] ??= []);
        while (!packed.done()) list.push(this.#read(packed, field, wireType(field.type)));
        continue;
      }
      const item = this.#read(reader, field, wire);
      if (field.repeated) (value[field.name] ??= []).push(item); else value[field.name] = item;
    }
    return value;
  }

  #read(reader, field, wire) {
    switch (field.type) {
      case "message": return this.decode(field.message, reader.bytes());
      case "string": return new TextDecoder().decode(reader.bytes());
      case "bytes": return reader.bytes();
      case "float": return reader.float32();
      case "double": return reader.float64();
      case "bool": return reader.varint() !== 0n;
      case "int64": case "int32": return Number(BigInt.asIntN(64, reader.varint()));
      default: return wire === VARINT ? Number(reader.varint()) : reader.skip(wire);
    }
  }
}

function wireType(type) {
  return type === "float" ? I32 : type === "double" ? I64 : VARINT;
}

function pushTag(out, number, wire) {
  pushVarint(out, BigInt((number << 3) | wire));
}

function pushVarint(out, v) {
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
}

class Reader {
  constructor(bytes) { this.buf = bytes; this.pos = 0; }
  done() { return this.pos >= this.buf.length; }
  varint() {
    let result = 0n, shift = 0n, byte;
    do {
      if (this.pos >= this.buf.length) throw new Error("truncated varint");
      byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    } while (byte & 0x80);
    return result;
  }
  bytes() {
    const length = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  float32() { const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true); this.pos += 4; return v; }
  float64() { const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true); this.pos += 8; return v; }
  skip(wire) {
    if (wire === VARINT) this.varint();
    else if (wire === I64) this.pos += 8;
    else if (wire === I32) this.pos += 4;
    else if (wire === LEN) this.bytes();
    else throw new Error(`unsupported wire type ${wire}`);
    return undefined;
  }
}

// Reads the viewer's event stream: records of a kind byte, a 4-byte big-endian length and the payload
// (eyeline.cloud.ingress.watch: 0 CloudMessage, 1 keyframe, 2 JSON statistics).
export async function* framedRecords(body) {
  const reader = body.getReader();
  let pending = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(pending.length + value.length);
    joined.set(pending); joined.set(value, pending.length);
    pending = joined;
    while (pending.length >= 5) {
      const view = new DataView(pending.buffer, pending.byteOffset, 5);
      const kind = view.getUint8(0), length = view.getUint32(1);
      if (pending.length < 5 + length) break;
      yield { kind, payload: pending.slice(5, 5 + length) };
      pending = pending.slice(5 + length);
    }
  }
}

export async function loadCodec(token) {
  const response = await fetch("/api/schema", { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`schema: HTTP ${response.status}: ${await response.text()}`);
  return new Codec(await response.json());
}
