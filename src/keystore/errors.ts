/** Errors of the keystore. Messages name files and field paths, never key material. */

/** The store cannot be opened or changed: corrupt, foreign, newer, sealed by another root key, locked, … */
export class KeyStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyStoreError';
  }
}

/** A stored record is malformed. `path` names the field, e.g. `keys[3].versions[0].wrappedMaterial`. */
export class RecordDecodeError extends KeyStoreError {
  readonly path: string;
  readonly problem: string;

  constructor(path: string, problem: string) {
    super(`keystore: ${path}: ${problem}`);
    this.name = 'RecordDecodeError';
    this.path = path;
    this.problem = problem;
  }
}
