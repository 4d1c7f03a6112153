/**
 * The key_id kubekms reports to kube-apiserver: `kubekms:<key uuid>:v<version>` (made by api/kmsv2-key-id.ts),
 * parsed back here.
 *
 * It names the key and its primary version, so it changes on every rotation and is never reused (versions only
 * grow; a recreated key has a new uuid). It is non-secret, well under the 1 KiB limit, the same on every
 * instance that shares the key state, and stable across restarts because both parts are persisted.
 */
import { createHash } from 'node:crypto';
import { isKeyUuid } from '../engine/identifiers.ts';

const RE = /^kubekms:([0-9a-f-]{36}):v([1-9][0-9]{0,9})$/;

export function parseKeyId(keyId: string): KeyIdParts | undefined {
  const m = RE.exec(keyId);
  if (!m || !isKeyUuid(m[1]!)) return undefined;
  const version = Number(m[2]);
  return version <= 0xffffffff ? { keyUuid: m[1]!, version } : undefined;
}

export interface KeyIdParts {
  readonly keyUuid: string;
  readonly version: number;
}

/**
 * parseKeyId with memory: the apiserver sends the same few key_ids over and over, so each is parsed once. Bounded:
 * past `max` distinct strings (junk from a misbehaving client) it starts over.
 */
export class KeyIdCache {
  readonly #parsed = new Map<string, KeyIdParts | undefined>();
  readonly #max: number;

  constructor(max = 64) {
    this.#max = max;
  }

  parse(keyId: string): KeyIdParts | undefined {
    const hit = this.#parsed.get(keyId);
    if (hit !== undefined || this.#parsed.has(keyId)) return hit;
    const parts = parseKeyId(keyId);
    if (this.#parsed.size >= this.#max) this.#parsed.clear();
    this.#parsed.set(keyId, parts);
    return parts;
  }
}

/** SHA-256 of the key_id, hex: what metrics and logs may carry (as the apiserver itself does). */
export function keyIdHash(keyId: string): string {
  return createHash('sha256').update(keyId).digest('hex');
}
