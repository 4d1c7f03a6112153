/**
 * Secret bytes (key material, plaintext, data keys) live in this type. It never prints or serializes its
 * contents: toString, toJSON and Node's inspect all give "[secret]". Reading the bytes is an explicit call
 * whose name says what it does, so every use is easy to find in review.
 */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export class SecretBytes {
  readonly #bytes: Uint8Array;

  /** Takes ownership of `bytes`: the caller must not keep or mutate its own reference. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  static copyOf(bytes: Uint8Array): SecretBytes {
    return new SecretBytes(Uint8Array.from(bytes));
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** The underlying bytes, without a copy: for handing to a crypto primitive. Never log or store them. */
  unsafeBytes(): Uint8Array {
    return this.#bytes;
  }

  /** Constant-time equality (in the length of the shorter input; lengths are not secret). */
  equals(other: SecretBytes): boolean {
    return constantTimeEqual(this.#bytes, other.#bytes);
  }

  /** Overwrites the bytes with zeros. The object prints the same afterwards; using it is a bug. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [INSPECT](): string {
    return '[secret]';
  }
}

/** Compares two byte strings in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
