/**
 * One line of secret text from a file readable only by its owner (a PKCS#11 PIN, an escrow passphrase), checked
 * like the root key file: a regular file, mode without group or other bits, bounded size, one non-empty line.
 * Error messages name the file and never echo its content.
 */
import { readFile, stat } from 'node:fs/promises';
import { RootKeyError } from './errors.ts';

/** `what` names the file in errors, e.g. `PIN file`. */
export async function readSecretLine(path: string, what: string, maxBytes: number): Promise<string> {
  const info = await stat(path).catch((e: unknown) => {
    throw new RootKeyError(`rootkey: cannot read ${what} ${path}: ${errorCode(e)}`, { cause: e });
  });
  if (!info.isFile()) throw new RootKeyError(`rootkey: ${what} ${path} is not a regular file`);
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RootKeyError(
      `rootkey: ${what} ${path} has mode 0${mode.toString(8)}, so group or others can access it; ` +
        `run chmod 600 ${path}`,
    );
  }
  if (info.size > maxBytes)
    throw new RootKeyError(`rootkey: ${what} ${path} holds ${info.size} bytes; at most ${maxBytes}`);
  const content = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new RootKeyError(`rootkey: cannot read ${what} ${path}: ${errorCode(e)}`, { cause: e });
  });
  const line = content.replace(/\r?\n$/, '');
  if (line === '') throw new RootKeyError(`rootkey: ${what} ${path} is empty`);
  if (/[\r\n]/.test(line)) throw new RootKeyError(`rootkey: ${what} ${path} holds more than one line`);
  return line;
}

function errorCode(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
