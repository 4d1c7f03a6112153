/**
 * Encrypt and Decrypt in the KMS v2 plugin's domain (docs/adr/0017-ciphertext-domains.md): blobs of format 2,
 * which the AWS API never opens, under the empty encryption context. The plugin names the key and version it
 * expects (from the apiserver's key_id), so Decrypt compares the blob's header bytes with them instead of parsing
 * an id out of the blob. Format 1 blobs (written by the plugin before format 2) open only when the caller says so.
 */
import {
  CIPHERTEXT_FORMAT_KMSV2,
  CIPHERTEXT_FORMAT_V1,
  CIPHERTEXT_OVERHEAD,
  HEADER_BYTES,
} from './ciphertext.ts';
import type { EngineCore } from './core.ts';
import { invalidCiphertext, KmsError } from './errors.ts';
import { headerOf, sameKeyAndVersion } from './headers.ts';
import { sealSymmetric } from './ops-encrypt.ts';
import { checkDecryptVersion } from './ops-retirement.ts';
import type { KeyRecord } from './records.ts';

const NO_CONTEXT = {};

/** State, usage and spec: a key that cannot wrap seeds is a KmsError naming why. */
function requireSeedKey(core: EngineCore, r: KeyRecord): void {
  core.requireUsable(r, 'ENCRYPT_DECRYPT');
  if (r.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `secrets-key: ${r.keySpec} keys cannot wrap DEK seeds`);
  }
}

/** Seals `plaintext` with the primary version of `keyId` (a canonical key id) as a format 2 blob. */
export function sealForPlugin(
  core: EngineCore,
  keyId: string,
  plaintext: Uint8Array,
): { ciphertext: Uint8Array; keyVersion: number } {
  const key = core.loadedKey(keyId);
  if (!key) throw new KmsError('NotFoundException', `Key '${core.arnOf(keyId)}' does not exist`);
  requireSeedKey(core, key.record);
  return {
    ciphertext: sealSymmetric(core, key, plaintext, NO_CONTEXT, CIPHERTEXT_FORMAT_KMSV2),
    keyVersion: key.record.primaryVersion,
  };
}

/**
 * Opens a blob that must be under `version` of `keyId`. Format 2 always; format 1 only with `acceptFormat1`.
 * Every failure of the blob is InvalidCiphertextException, nothing more. Returns the plaintext, owned.
 */
export function openForPlugin(
  core: EngineCore,
  blob: Uint8Array,
  keyId: string,
  version: number,
  acceptFormat1: boolean,
): Uint8Array {
  const format = blob[0];
  if (format !== CIPHERTEXT_FORMAT_KMSV2 && !(format === CIPHERTEXT_FORMAT_V1 && acceptFormat1)) {
    throw invalidCiphertext();
  }
  if (blob.length < CIPHERTEXT_OVERHEAD) throw invalidCiphertext();
  const key = core.loadedKey(keyId);
  if (!key) throw invalidCiphertext();
  const r = key.record;
  core.requireUsable(r, 'ENCRYPT_DECRYPT');
  if (r.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidCiphertext();
  const material = key.material.get(version);
  if (!material) throw invalidCiphertext();
  const retired = checkDecryptVersion(core, r, version);
  const header = headerOf(r, version, format);
  if (!sameKeyAndVersion(blob, header)) throw invalidCiphertext();
  const pt = core.crypto.aesGcmOpen(material, blob.subarray(HEADER_BYTES), header.emptyContextAad);
  if (!pt) throw invalidCiphertext();
  if (retired) core.retiredUses.record(retired);
  return pt;
}

/** True for a blob of format 1: made by the plugin before format 2, or by the AWS API. */
export const isFormat1 = (blob: Uint8Array): boolean => blob[0] === CIPHERTEXT_FORMAT_V1;
