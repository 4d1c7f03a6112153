/** unixTarget: a relative socket path binds where it says, not at its last segment in the working directory. */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { unixTarget } from './unix-target.ts';

const cwd = process.cwd();
let dir = '';
afterEach(async () => {
  process.chdir(cwd);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const bind = (target: string) =>
  new Promise<Server>((resolve, reject) => {
    const server = new Server();
    server.bindAsync(target, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve(server)));
  });

describe('unixTarget', () => {
  it('makes a relative path absolute, so `.data/kms.sock` binds .data/kms.sock', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubekms-unix-'));
    process.chdir(dir);
    await mkdir('.data');
    expect(unixTarget('.data/kms.sock')).toBe(`unix://${join(process.cwd(), '.data/kms.sock')}`);
    expect(unixTarget('/var/run/kubekms/kms.sock')).toBe('unix:///var/run/kubekms/kms.sock');
    const server = await bind(unixTarget('.data/kms.sock'));
    expect((await stat(join(dir, '.data/kms.sock'))).isSocket()).toBe(true);
    server.forceShutdown();
    // What it fixes: `unix://` + the relative path takes `.data` as the authority and binds ./kms.sock.
    const wrong = await bind('unix://.data/other.sock');
    await expect(stat(join(dir, '.data/other.sock'))).rejects.toThrow(/ENOENT/);
    expect((await stat(join(dir, 'other.sock'))).isSocket()).toBe(true);
    wrong.forceShutdown();
  });
});
