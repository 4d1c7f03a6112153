/** Errors of the keystore. Messages name files and field paths, never key material. */

/** The store cannot be opened or changed: corrupt, foreign, newer, sealed by another root key, locked, … */
export class KeyStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyStoreError';
  }
}

/** `path: problem`, or just the problem when the path is empty (the whole document). */
export function locate(path: string, problem: string): string {
  return path === '' ? problem : `${path}: ${problem}`;
}

/** A stored record is malformed. `path` names the field, e.g. `keys[3].versions[0].wrappedMaterial`;
 * empty for the document as a whole. */
export class RecordDecodeError extends KeyStoreError {
  readonly path: string;
  readonly problem: string;

  constructor(path: string, problem: string) {
    super(`keystore: ${locate(path, problem)}`);
    this.name = 'RecordDecodeError';
    this.path = path;
    this.problem = problem;
  }
}
