/**
 * Key versions that data names but this keystore does not hold (docs/adr/0022-rollback-detection.md): a KMS v2
 * Decrypt under a version above the newest held proves the keystore is older than the data. Remembered for the
 * life of the process; a rotation of such a key is refused, since it would issue one of those version numbers
 * again for new key material (a key_id reused, invariant 2).
 */
export class DataVersions {
  readonly #highest = new Map<string, number>();

  /** Data under `version` of `keyId` was seen. */
  note(keyId: string, version: number): void {
    if (version > (this.#highest.get(keyId) ?? 0)) this.#highest.set(keyId, version);
  }

  /** The highest version of `keyId` seen in data; 0 when none was noted. */
  highest(keyId: string): number {
    return this.#highest.get(keyId) ?? 0;
  }
}
