/**
 * A KeyStoreFs that fails one chosen step of the next atomic write of keystore.json (the temp file's open,
 * write (after writing half), fsync, close, the rename, or the directory fsync), for atomicity tests.
 */
import type { FileHandle } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import type { KeyStoreFs } from '../keystore-fs.ts';

export type FaultStep = 'open' | 'write' | 'sync' | 'close' | 'rename' | 'dirsync';

function ioError(code: string): Error {
  return Object.assign(new Error(`${code}: injected failure`), { code });
}

export function faultyFs(): KeyStoreFs & { failAt: FaultStep | undefined } {
  const control: { failAt: FaultStep | undefined } = { failAt: undefined };
  const isTemp = (path: unknown) => String(path).includes('keystore.json.tmp-');
  const fs: KeyStoreFs = {
    ...fsp,
    open: async (path, flags, mode) => {
      const step = control.failAt;
      if (isTemp(path) && step === 'open') throw ioError('ENOSPC');
      const fh: FileHandle = await fsp.open(path, flags, mode);
      if (isTemp(path) && step === 'write') {
        Object.assign(fh, {
          writeFile: async (data: string) => {
            await fh.write(data.slice(0, data.length >> 1));
            throw ioError('ENOSPC');
          },
        });
      }
      if (isTemp(path) && step === 'sync')
        Object.assign(fh, { sync: async () => Promise.reject(ioError('EIO')) });
      if (isTemp(path) && step === 'close') {
        const realClose = fh.close.bind(fh);
        Object.assign(fh, { close: async () => realClose().then(() => Promise.reject(ioError('EIO'))) });
      }
      if (flags === 'r' && step === 'dirsync')
        Object.assign(fh, { sync: async () => Promise.reject(ioError('EIO')) });
      return fh;
    },
    rename: async (from, to) => {
      if (control.failAt === 'rename') throw ioError('EXDEV');
      return fsp.rename(from, to);
    },
  };
  return Object.assign(control, fs);
}
