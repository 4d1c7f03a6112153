/**
 * The protobuf wire format of the six KMS v2 messages (proto/kmsv2.proto), by hand: every field is a string, bytes
 * or a map<string, bytes>, all length-delimited, so a codec is a few dozen lines — and the plugin does not load
 * protobufjs and parse the .proto at start-up (~12 MiB resident, issue 21). Decoding follows proto3: absent fields
 * take their defaults ('' and empty bytes), unknown fields are skipped, the last of a repeated scalar or map key
 * wins. Malformed input throws; grpc-js answers it with an error status. A differential test checks this codec
 * against protobufjs on the .proto itself.
 */

const LEN = 2; // wire type of length-delimited fields
const EMPTY: Buffer = Buffer.alloc(0);

/** Reads fields of one message; `field` is called with each field number, wire type and (for LEN) its bytes. */
function readFields(buf: Uint8Array, field: (no: number, value: Buffer) => void): void {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= b.length) throw new Error('kmsv2 wire: truncated varint');
      const byte = b[pos++]!;
      if (shift < 53) value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error('kmsv2 wire: varint longer than 10 bytes');
  };
  const take = (n: number): Buffer => {
    if (n > b.length - pos) throw new Error('kmsv2 wire: field runs past the end of the message');
    const out = b.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < b.length) {
    const tag = varint();
    const no = Math.floor(tag / 8);
    const type = tag % 8;
    if (no === 0) throw new Error('kmsv2 wire: field number 0');
    if (type === LEN) field(no, take(varint()));
    else if (type === 0) varint();
    else if (type === 1) take(8);
    else if (type === 5) take(4);
    else throw new Error(`kmsv2 wire: unsupported wire type ${type}`);
  }
}

const text = (b: Buffer): string => b.toString('utf8');

/** A map<string, bytes> entry: key = field 1, value = field 2. */
function readMapEntry(entry: Buffer, into: Record<string, Buffer>): void {
  let key = '';
  let value = EMPTY;
  readFields(entry, (no, v) => {
    if (no === 1) key = text(v);
    else if (no === 2) value = v;
  });
  into[key] = value;
}

export interface StatusResponse {
  version: string;
  healthz: string;
  key_id: string;
}
export interface EncryptRequest {
  plaintext: Buffer;
  uid: string;
}
export interface EncryptResponse {
  ciphertext: Buffer;
  key_id: string;
  annotations: Record<string, Buffer>;
}
export interface DecryptRequest {
  ciphertext: Buffer;
  uid: string;
  key_id: string;
  annotations: Record<string, Buffer>;
}
export interface DecryptResponse {
  plaintext: Buffer;
}

/** StatusRequest has no fields; its body must still be a well-formed message. */
export function decodeStatusRequest(buf: Uint8Array): Record<string, never> {
  readFields(buf, () => undefined);
  return {};
}

export function decodeEncryptRequest(buf: Uint8Array): EncryptRequest {
  const m: EncryptRequest = { plaintext: EMPTY, uid: '' };
  readFields(buf, (no, v) => {
    if (no === 1) m.plaintext = v;
    else if (no === 2) m.uid = text(v);
  });
  return m;
}

export function decodeDecryptRequest(buf: Uint8Array): DecryptRequest {
  const m: DecryptRequest = { ciphertext: EMPTY, uid: '', key_id: '', annotations: {} };
  readFields(buf, (no, v) => {
    if (no === 1) m.ciphertext = v;
    else if (no === 2) m.uid = text(v);
    else if (no === 3) m.key_id = text(v);
    else if (no === 4) readMapEntry(v, m.annotations);
  });
  return m;
}

export function decodeStatusResponse(buf: Uint8Array): StatusResponse {
  const m: StatusResponse = { version: '', healthz: '', key_id: '' };
  readFields(buf, (no, v) => {
    if (no === 1) m.version = text(v);
    else if (no === 2) m.healthz = text(v);
    else if (no === 3) m.key_id = text(v);
  });
  return m;
}

export function decodeEncryptResponse(buf: Uint8Array): EncryptResponse {
  const m: EncryptResponse = { ciphertext: EMPTY, key_id: '', annotations: {} };
  readFields(buf, (no, v) => {
    if (no === 1) m.ciphertext = v;
    else if (no === 2) m.key_id = text(v);
    else if (no === 3) readMapEntry(v, m.annotations);
  });
  return m;
}

export function decodeDecryptResponse(buf: Uint8Array): DecryptResponse {
  const m: DecryptResponse = { plaintext: EMPTY };
  readFields(buf, (no, v) => {
    if (no === 1) m.plaintext = v;
  });
  return m;
}

type Value = string | Uint8Array;
/** Fields to write, in order; proto3 omits empty scalars. */
type Fields = readonly (readonly [number, Value])[];

const varintSize = (n: number): number =>
  n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
const valueSize = (v: Value): number => (typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength);
const fieldSize = (no: number, v: Value): number => {
  const n = valueSize(v);
  return varintSize(no * 8 + LEN) + varintSize(n) + n;
};

function writeVarint(out: Buffer, pos: number, n: number): number {
  let p = pos;
  let v = n;
  while (v >= 0x80) {
    out[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

function writeFields(out: Buffer, start: number, fields: Fields): number {
  let pos = start;
  for (const [no, v] of fields) {
    pos = writeVarint(out, pos, no * 8 + LEN);
    pos = writeVarint(out, pos, valueSize(v));
    if (typeof v === 'string') pos += out.write(v, pos, 'utf8');
    else {
      out.set(v, pos);
      pos += v.byteLength;
    }
  }
  return pos;
}

/** One message: its non-empty fields, then each map entry as a nested message {1: key, 2: value}. */
function encode(
  fields: Fields,
  map?: { readonly no: number; readonly entries: Record<string, Uint8Array> },
): Buffer {
  const present = fields.filter(([, v]) => valueSize(v) > 0);
  const entries = map ? Object.entries(map.entries).map(([k, v]) => [k, v] as const) : [];
  const entrySizes = entries.map(([k, v]) => fieldSize(1, k) + fieldSize(2, v));
  let size = 0;
  for (const [no, v] of present) size += fieldSize(no, v);
  for (const n of entrySizes) size += varintSize((map?.no ?? 0) * 8 + LEN) + varintSize(n) + n;
  const out = Buffer.allocUnsafe(size);
  let pos = writeFields(out, 0, present);
  entries.forEach(([k, v], i) => {
    pos = writeVarint(out, pos, (map?.no ?? 0) * 8 + LEN);
    pos = writeVarint(out, pos, entrySizes[i]!);
    pos = writeFields(out, pos, [
      [1, k],
      [2, v],
    ]);
  });
  return out;
}

export const encodeStatusResponse = (m: StatusResponse): Buffer =>
  encode([
    [1, m.version],
    [2, m.healthz],
    [3, m.key_id],
  ]);
export const encodeEncryptResponse = (m: EncryptResponse): Buffer =>
  encode(
    [
      [1, m.ciphertext],
      [2, m.key_id],
    ],
    { no: 3, entries: m.annotations },
  );
export const encodeDecryptResponse = (m: DecryptResponse): Buffer => encode([[1, m.plaintext]]);
export const encodeEncryptRequest = (m: EncryptRequest): Buffer =>
  encode([
    [1, m.plaintext],
    [2, m.uid],
  ]);
export const encodeDecryptRequest = (m: DecryptRequest): Buffer =>
  encode(
    [
      [1, m.ciphertext],
      [2, m.uid],
      [3, m.key_id],
    ],
    { no: 4, entries: m.annotations },
  );
