/** The error `ecdh` throws when the peer's public key is malformed, off the curve or on another curve. */
export class InvalidPublicKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPublicKey';
  }
}

export const isInvalidPublicKeyError = (e: unknown): e is InvalidPublicKeyError =>
  e instanceof Error && e.name === 'InvalidPublicKey';
