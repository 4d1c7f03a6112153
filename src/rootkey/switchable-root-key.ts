/**
 * The root key of a running serve, which an online root-key rotation (docs/adr/0024) replaces: every wrap uses the
 * current root key; `switchTo` makes another one current. The engine and the keystore hold this object, so the
 * switch happens for both at the instant the keystore has committed the state under the new root.
 */
import type { RootKey, RootKeyIdentity } from '../engine/ports.ts';
import type { SecretBytes } from '../engine/secret.ts';

export class SwitchableRootKey implements RootKey {
  #current: RootKey;

  constructor(current: RootKey) {
    this.#current = current;
  }

  get current(): RootKey {
    return this.#current;
  }

  get description(): string {
    return this.#current.description;
  }

  get identity(): RootKeyIdentity | undefined {
    return this.#current.identity;
  }

  switchTo(next: RootKey): void {
    this.#current = next;
  }

  wrap(plaintext: SecretBytes, aad: Uint8Array): Promise<Uint8Array> {
    return this.#current.wrap(plaintext, aad);
  }

  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    return this.#current.unwrap(wrapped, aad);
  }
}
