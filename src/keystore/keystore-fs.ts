/**
 * The file system operations the keystore uses, as a port so that tests can inject failures at any step
 * (open, write, fsync, rename, directory fsync) and check that the store on disk stays intact.
 */
import * as fsp from 'node:fs/promises';

export type KeyStoreFs = Pick<
  typeof fsp,
  'open' | 'rename' | 'unlink' | 'readdir' | 'mkdir' | 'readFile' | 'link' | 'stat' | 'utimes'
>;

export const nodeFs: KeyStoreFs = fsp;

export function errorCode(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
