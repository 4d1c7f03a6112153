/** Errors of the root of trust. Messages name files and modes, never key material. */

/** The root key could not be configured, created or loaded (missing file, wrong mode, wrong size, …). */
export class RootKeyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RootKeyError';
  }
}

/**
 * A wrapped blob did not unwrap: it was wrapped by another root key, with another AAD, or it was altered. The
 * message deliberately does not say which.
 */
export class RootKeyMismatchError extends RootKeyError {
  constructor() {
    super('rootkey: unwrap failed: not wrapped by this root key with this AAD, or altered');
    this.name = 'RootKeyMismatchError';
  }
}

/** `FileRootKey.create` found a file at the path; it never overwrites one. */
export class RootKeyExistsError extends RootKeyError {
  constructor(path: string, options?: ErrorOptions) {
    super(`rootkey: ${path} already exists; refusing to overwrite a root key`, options);
    this.name = 'RootKeyExistsError';
  }
}
