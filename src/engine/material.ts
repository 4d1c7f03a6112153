/** New key material for a spec, wrapped under the root key for storage. */
import type { EngineCore } from './core.ts';
import { newVersionRecord } from './keyset.ts';
import { type KeyVersionRecord, keyMaterialAad, type RotationType } from './records.ts';
import { SecretBytes } from './secret.ts';
import { HMAC_KEY_BYTES, isAsymmetricSpec, isHmacSpec, type KeySpec } from './specs.ts';

export interface NewVersion {
  readonly record: KeyVersionRecord;
  readonly material: SecretBytes;
}

export async function createVersion(
  core: EngineCore,
  keyId: string,
  spec: KeySpec,
  version: number,
  rotationType?: RotationType,
): Promise<NewVersion> {
  let material: SecretBytes;
  let publicKey: Uint8Array | undefined;
  if (isAsymmetricSpec(spec)) {
    const pair = core.crypto.generateKeyPair(spec);
    material = pair.privateKey;
    publicKey = pair.publicKey;
  } else {
    material = new SecretBytes(core.crypto.randomBytes(isHmacSpec(spec) ? HMAC_KEY_BYTES[spec] : 32));
  }
  const wrapped = await core.rootKey.wrap(material, keyMaterialAad(keyId, version));
  return {
    record: newVersionRecord(version, core.clock.now(), wrapped, publicKey, rotationType),
    material,
  };
}
