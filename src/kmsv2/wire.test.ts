/**
 * The hand-written KMS v2 codec against protobufjs on proto/kmsv2.proto (the reference loadKmsV2Service): every
 * message encodes to what protobufjs decodes and decodes what protobufjs encodes, for random field values (the
 * bytes may differ: protobufjs also writes empty fields, proto3 omits them; both decode alike); plus
 * proto3 defaults, unknown fields and malformed input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadKmsV2Service } from '../api/kmsv2-proto.ts';
import { KMS_V2_SERVICE } from './service.ts';

const reference = loadKmsV2Service();
const bytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
const str = fc.string({ unit: 'grapheme', maxLength: 40 });
const annotations = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 30 }).filter((k) => k !== '__proto__'),
  bytes,
  { maxKeys: 4 },
);

const messages = {
  'Decrypt request': {
    arb: fc.record({ ciphertext: bytes, uid: str, key_id: str, annotations }),
    ours: KMS_V2_SERVICE.Decrypt,
    theirs: reference.Decrypt!,
    side: 'request',
  },
  'Decrypt response': {
    arb: fc.record({ plaintext: bytes }),
    ours: KMS_V2_SERVICE.Decrypt,
    theirs: reference.Decrypt!,
    side: 'response',
  },
  'Encrypt request': {
    arb: fc.record({ plaintext: bytes, uid: str }),
    ours: KMS_V2_SERVICE.Encrypt,
    theirs: reference.Encrypt!,
    side: 'request',
  },
  'Encrypt response': {
    arb: fc.record({ ciphertext: bytes, key_id: str, annotations }),
    ours: KMS_V2_SERVICE.Encrypt,
    theirs: reference.Encrypt!,
    side: 'response',
  },
  'Status response': {
    arb: fc.record({ version: str, healthz: str, key_id: str }),
    ours: KMS_V2_SERVICE.Status,
    theirs: reference.Status!,
    side: 'response',
  },
} as const;

type Codec = { serialize: (m: object) => Buffer; deserialize: (b: Buffer) => unknown };
function codec(def: unknown, side: 'request' | 'response'): Codec {
  const d = def as Record<string, (x: never) => unknown>;
  return {
    serialize: d[`${side}Serialize`] as unknown as Codec['serialize'],
    deserialize: d[`${side}Deserialize`] as unknown as Codec['deserialize'],
  };
}

describe('kmsv2 wire codec', () => {
  it.each(Object.entries(messages))('%s: both ways against protobufjs', (_, m) => {
    const ours = codec(m.ours, m.side);
    const theirs = codec(m.theirs, m.side);
    fc.assert(
      fc.property(m.arb, (msg) => {
        expect(theirs.deserialize(ours.serialize(msg))).toEqual(msg);
        expect(ours.deserialize(theirs.serialize(msg))).toEqual(msg);
      }),
      { numRuns: 300 },
    );
  });

  it('gives proto3 defaults for absent fields, skips unknown ones, and refuses malformed input', () => {
    const decrypt = codec(KMS_V2_SERVICE.Decrypt, 'request');
    expect(decrypt.deserialize(Buffer.alloc(0))).toEqual({
      ciphertext: Buffer.alloc(0),
      uid: '',
      key_id: '',
      annotations: {},
    });
    // field 9 varint, field 10 fixed64, field 11 fixed32, field 12 bytes: all skipped; then uid = "u".
    const unknown = Buffer.from([
      0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4, 0x62, 1, 0, 0x12, 1, 0x75,
    ]);
    expect(decrypt.deserialize(unknown)).toMatchObject({ uid: 'u' });
    for (const bad of [
      [0x0a, 0x05, 1, 2], // length past the end
      [0x0a], // truncated length
      [0x0b], // wire type 3 (groups)
      [0x02, 0x00], // field number 0
      [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // varint over 10 bytes
    ])
      expect(() => decrypt.deserialize(Buffer.from(bad)), JSON.stringify(bad)).toThrow(/kmsv2 wire/);
    // StatusRequest has no fields, but a malformed body is still refused; unknown fields are not.
    const status = codec(KMS_V2_SERVICE.Status, 'request');
    expect(() => status.deserialize(Buffer.from([0x0a, 0xff, 0x01]))).toThrow(/kmsv2 wire/);
    expect(status.deserialize(Buffer.from([0x08, 0x01]))).toEqual({});
  });
});
