/**
 * The root key of a running serve, which a root-key rotation replaces (docs/adr/0024, and in HA docs/adr/0026):
 * every wrap uses the current root key; `switchTo` makes another one current. The engine and the keystore hold
 * this object, so the switch happens for both at the instant the keystore has committed the state under the new
 * root. In HA a second root can be *staged* (held but not yet used to wrap) and, after the switch, the former root
 * stays *previous*: unwraps try the current root, then the staged or previous one, so a state in which some
 * records are wrapped by either root reads.
 */

import { randomBytes } from 'node:crypto';
import type { RootKey, RootKeyIdentity } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyMismatchError } from './errors.ts';

/** `<kind>:<fingerprint>` of a root key, as heartbeats and the root marker publish it ('' when it has none). */
export function rootIdentity(k: RootKey | undefined): string {
  const id = k?.identity;
  return id === undefined ? '' : `${id.kind}:${id.fingerprint}`;
}

/** Wraps and unwraps a random value with `key`: a key that cannot do both is refused before it is held. */
export async function proveRoundTrip(key: RootKey): Promise<void> {
  const aad = new TextEncoder().encode('kubekms/root-key-stage-check/v1');
  const probe = new SecretBytes(new Uint8Array(randomBytes(32)));
  const back = await key.unwrap(await key.wrap(probe, aad), aad);
  const same = Buffer.from(back.unsafeBytes()).equals(Buffer.from(probe.unsafeBytes()));
  probe.wipe();
  back.wipe();
  if (!same) throw new Error(`${key.description}: unwrap did not give back what was wrapped`);
}

export class SwitchableRootKey implements RootKey {
  #current: RootKey;
  #staged: RootKey | undefined;
  #previous: RootKey | undefined;

  constructor(current: RootKey) {
    this.#current = current;
  }

  get current(): RootKey {
    return this.#current;
  }

  /** The root this instance holds for a coming rotation (HA phase 1), not used to wrap yet. */
  get staged(): RootKey | undefined {
    return this.#staged;
  }

  /** The root this instance wrapped with before its last `promoteStaged`, still accepted for unwraps. */
  get previous(): RootKey | undefined {
    return this.#previous;
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

  /** Holds `next` for unwraps (no-op when it is the current root already). */
  stage(next: RootKey): void {
    if (rootIdentity(next) !== '' && rootIdentity(next) === rootIdentity(this.#current)) return;
    this.#staged = next;
  }

  /** The staged root becomes current; the current one stays readable as previous. */
  promoteStaged(): void {
    const next = this.#staged;
    if (next === undefined) throw new Error('root key: no staged root key to switch to');
    this.#previous = this.#current;
    this.#current = next;
    this.#staged = undefined;
  }

  /** Stops accepting the previous root (every record has moved away from it). */
  forgetPrevious(): void {
    this.#previous = undefined;
  }

  wrap(plaintext: SecretBytes, aad: Uint8Array): Promise<Uint8Array> {
    return this.#current.wrap(plaintext, aad);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    const others = [this.#staged, this.#previous].filter((k): k is RootKey => k !== undefined);
    try {
      return await this.#current.unwrap(wrapped, aad);
    } catch (e) {
      if (!(e instanceof RootKeyMismatchError) || others.length === 0) throw e;
      for (const k of others) {
        try {
          return await k.unwrap(wrapped, aad);
        } catch (e2) {
          if (!(e2 instanceof RootKeyMismatchError)) throw e2;
        }
      }
      throw e;
    }
  }
}
