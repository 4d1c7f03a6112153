import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeKeyIdWrites,
  encodeKeyIdWrites,
  KEY_ID_HASH_METRIC,
  liveApiservers,
  parseKeyIdWrites,
  sha256Label,
} from './apiserver-writes.ts';

const A = sha256Label('apiserver-aaaa');
const K1 = sha256Label('kubekms:0b3c5a9e-0000-4000-8000-000000000001:v1');
const K2 = sha256Label('kubekms:0b3c5a9e-0000-4000-8000-000000000001:v2');

// The shape kube-apiserver 1.36 exposes (labels sorted, value in seconds with an exponent).
const exposition = [
  `# HELP ${KEY_ID_HASH_METRIC} [ALPHA] The last time in seconds when a keyID was used.`,
  `# TYPE ${KEY_ID_HASH_METRIC} gauge`,
  `${KEY_ID_HASH_METRIC}{apiserver_id_hash="${A}",key_id_hash="${K1}",provider_name="kubekms",transformation_type="from_storage"} 1.7649e+09`,
  `${KEY_ID_HASH_METRIC}{apiserver_id_hash="${A}",key_id_hash="${K1}",provider_name="kubekms",transformation_type="to_storage"} 1.764900001e+09`,
  `${KEY_ID_HASH_METRIC}{apiserver_id_hash="${A}",key_id_hash="${K2}",provider_name="kubekms",transformation_type="to_storage"} 1.7649012345e+09`,
  `apiserver_envelope_encryption_key_id_hash_total{apiserver_id_hash="${A}",key_id_hash="${K2}",provider_name="kubekms",transformation_type="to_storage"} 7`,
  `${KEY_ID_HASH_METRIC}{apiserver_id_hash="",key_id_hash="${K2}",provider_name="kubekms",transformation_type="to_storage"} 1.7649e+09`,
  `${KEY_ID_HASH_METRIC}{apiserver_id_hash="${A}",key_id_hash="${K2}",provider_name="kubekms",transformation_type="to_storage"} NaN`,
].join('\n');

describe('apiserver key_id writes', () => {
  it('hashes as kube-apiserver labels them: sha256: and the hex digest of the string', () => {
    expect(sha256Label('abc')).toBe(`sha256:${createHash('sha256').update('abc').digest('hex')}`);
    expect(sha256Label('abc')).toBe(
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('parses only the to_storage writes of the last-timestamp gauge, in milliseconds', () => {
    expect(parseKeyIdWrites(exposition)).toEqual([
      { apiserver: A, keyIdHash: K1, at: 1_764_900_001_000 },
      { apiserver: A, keyIdHash: K2, at: 1_764_901_234_500 },
    ]);
    expect(parseKeyIdWrites('')).toEqual([]);
    expect(parseKeyIdWrites('garbage{\n}')).toEqual([]);
  });

  it('a live API server renewed its identity Lease within a minute; the hash is of the Lease name', () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    const lease = (name: string, renewTime?: string) => ({
      metadata: { name },
      spec: renewTime ? { renewTime } : {},
    });
    expect(
      liveApiservers(
        [
          lease('apiserver-aaaa', '2026-12-02T11:59:50.000000Z'),
          lease('apiserver-bbbb', '2026-12-02T11:58:00.000000Z'),
          lease('apiserver-cccc'),
        ],
        now,
      ),
    ).toEqual([A]);
  });

  it('the heartbeat annotation round-trips, keeps the 32 newest, and reads junk as nothing', () => {
    const writes = Array.from({ length: 40 }, (_, i) => ({ apiserver: A, keyIdHash: K2, at: i }));
    const back = decodeKeyIdWrites(encodeKeyIdWrites(writes));
    expect(back).toHaveLength(32);
    expect(back[0]).toEqual({ apiserver: A, keyIdHash: K2, at: 39 });
    for (const junk of [undefined, '', '{', '{}', '[[1,2,3]]', '[["a","b"]]'])
      expect(decodeKeyIdWrites(junk)).toEqual([]);
  });
});
