import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';
import { openRootKey, type RootKeyLog } from './root-key-config.ts';

interface Line {
  level: 'warn' | 'info';
  obj: object;
  msg: string;
}

function recordingLog(): RootKeyLog & { lines: Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-rootkey-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openRootKey', () => {
  it('loads --root-key-file and logs its description', async () => {
    const path = join(dir, 'root.key');
    await writeFile(path, Buffer.alloc(32, 9), { mode: 0o600 });
    const log = recordingLog();
    const key = await openRootKey({ rootKeyFile: path, dev: false, dataDir: join(dir, 'data'), log });
    expect(key.description).toMatch(/^file:.*root\.key \(fingerprint /);
    expect(log.lines).toEqual([{ level: 'info', obj: { rootKey: key.description }, msg: 'root key loaded' }]);
  });

  it('prefers the file over --dev', async () => {
    const path = join(dir, 'root.key');
    await writeFile(path, Buffer.alloc(32, 9), { mode: 0o600 });
    const key = await openRootKey({ rootKeyFile: path, dev: true, dataDir: dir, log: recordingLog() });
    expect(key.description).toContain(path);
  });

  it('with --dev creates <dataDir>/dev-root.key once, reuses it, and warns loudly each time', async () => {
    const dataDir = join(dir, 'data');
    const log = recordingLog();
    const first = await openRootKey({ dev: true, dataDir, log });
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'dev-root.key'))).mode & 0o777).toBe(0o600);
    const second = await openRootKey({ dev: true, dataDir, log });
    expect(second.description).toBe(first.description);
    const wrapped = await first.wrap(new SecretBytes(new Uint8Array([1, 2])), new Uint8Array());
    expect((await second.unwrap(wrapped, new Uint8Array())).length).toBe(2);
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(log.lines[0]!.msg).toMatch(/DEVELOPMENT ROOT KEY.*never use --dev in production/i);
  });

  it('without a file or --dev names the --root-key-file flag', async () => {
    const err = await openRootKey({ dev: false, dataDir: dir, log: recordingLog() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyError);
    expect((err as Error).message).toMatch(/^rootkey: no root key configured: pass --root-key-file/);
  });

  it('propagates a refused root key file', async () => {
    const path = join(dir, 'root.key');
    await writeFile(path, Buffer.alloc(32, 9), { mode: 0o644 });
    await expect(
      openRootKey({ rootKeyFile: path, dev: true, dataDir: dir, log: recordingLog() }),
    ).rejects.toThrow(/chmod 600/);
  });

  it('accepts a pino logger', async () => {
    const log: RootKeyLog = pino({ level: 'silent' });
    await expect(openRootKey({ dev: true, dataDir: dir, log })).resolves.toBeInstanceOf(FileRootKey);
  });
});
