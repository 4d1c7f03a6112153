/**
 * keystore.lock after a reboot or a reused pid: liveness from the boot id and the process start time, which
 * neither can fake; a real second process holding the lock is still refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyStoreError } from './errors.ts';
import { nodeFs } from './keystore-fs.ts';
import { KeyStoreLock, liveLockOwner } from './keystore-lock.ts';
import { parseLock } from './lock-record.ts';
import { parseStartTicks } from './process-identity.ts';

let dir: string;
let child: ChildProcess | undefined;
const lockFile = () => join(dir, 'keystore.lock');

/** Read straight from /proc, independently of process-identity.ts. */
const thisBoot = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const thisPidns = () => /[0-9]+/.exec(readlinkSync('/proc/self/ns/pid'))![0];
const startTicks = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
};

async function acquireError(): Promise<string> {
  try {
    const lock = await KeyStoreLock.acquire(nodeFs, dir);
    await lock.release();
    return 'acquired';
  } catch (e) {
    expect(e).toBeInstanceOf(KeyStoreError);
    return (e as Error).message;
  }
}

async function takesOver(): Promise<void> {
  const lock = await KeyStoreLock.acquire(nodeFs, dir);
  expect(parseLock(await readFile(lockFile(), 'utf8'))?.pid).toBe(process.pid);
  await lock.release();
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-lock-'));
});

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('keystore lock liveness', () => {
  it('writes pid, host name, boot id, pid namespace and start time', async () => {
    const lock = await KeyStoreLock.acquire(nodeFs, dir);
    expect(await readFile(lockFile(), 'utf8')).toBe(
      `${process.pid}\n${hostname()}\nboot=${thisBoot()}\npidns=${thisPidns()}\nstart=${startTicks(process.pid)}\n`,
    );
    await lock.release();
  });

  it('takes over an old-format lock naming pid 1 on this host, last touched before pid 1 started (a reboot)', async () => {
    await writeFile(lockFile(), `1\n${hostname()}\n`);
    const beforeBoot = new Date('2000-01-01T00:00:00Z');
    await utimes(lockFile(), beforeBoot, beforeBoot);
    await takesOver();
  });

  it('still refuses an old-format lock naming a live process that started before the lock was touched', async () => {
    await writeFile(lockFile(), `${process.ppid}\n${hostname()}\n`);
    expect(await acquireError()).toMatch(new RegExp(`another kubekms \\(pid ${process.ppid}\\) uses`));
  });

  it('takes over a lock naming pid 1 or our parent on this host when that pid started at another tick (reused)', async () => {
    for (const pid of [1, process.ppid]) {
      const start = startTicks(pid) + 1;
      await writeFile(lockFile(), `${pid}\n${hostname()}\nboot=${thisBoot()}\nstart=${start}\n`);
      await takesOver();
    }
  });

  it('takes over a lock written in another boot, even naming a live pid with its real start time', async () => {
    const pid = process.ppid;
    await writeFile(lockFile(), `${pid}\n${hostname()}\nboot=${randomUUID()}\nstart=${startTicks(pid)}\n`);
    await takesOver();
  });

  it('refuses a lock from another pid namespace on this host while it is touched, whatever its pid; takes it over 30 s after', async () => {
    // A kubekms in a container (pid 1 there) seen from the host, or the other way round.
    const other = String(Number(thisPidns()) + 1);
    await writeFile(lockFile(), `1\n${hostname()}\nboot=${thisBoot()}\npidns=${other}\nstart=12345\n`);
    expect(await acquireError()).toMatch(/another kubekms \(pid 1\) uses/);
    const old = new Date(Date.now() - 31_000);
    await utimes(lockFile(), old, old);
    await takesOver();
  });

  it('refuses a lock held by a live second process, and takes it over once that process is killed', async () => {
    const url = (f: string) => JSON.stringify(new URL(f, import.meta.url).href);
    child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { KeyStoreLock } from ${url('./keystore-lock.ts')};
         import { nodeFs } from ${url('./keystore-fs.ts')};
         await KeyStoreLock.acquire(nodeFs, ${JSON.stringify(dir)});
         console.log('held');
         setInterval(() => {}, 1 << 30);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const proc = child;
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.once('data', () => resolve());
      proc.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
    });
    const pid = proc.pid!;
    expect(parseLock(await readFile(lockFile(), 'utf8'))).toEqual({
      pid,
      host: hostname(),
      boot: thisBoot(),
      pidns: thisPidns(),
      start: startTicks(pid),
    });
    expect(await acquireError()).toBe(
      `keystore: another kubekms (pid ${pid}) uses this data dir ${dir}; ` +
        `if no kubekms runs there, remove ${lockFile()}`,
    );
    expect((await liveLockOwner(nodeFs, lockFile()))?.pid).toBe(pid);
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));
    expect(await liveLockOwner(nodeFs, lockFile())).toBeUndefined();
    await takesOver();
  });
});

describe('lock record', () => {
  it('parses old formats, ignores unknown and malformed fields', () => {
    const none = { host: undefined, boot: undefined, pidns: undefined, start: undefined };
    expect(parseLock('42\n')).toEqual({ ...none, pid: 42 });
    expect(parseLock('42\nnode-a\n')).toEqual({ ...none, pid: 42, host: 'node-a' });
    const boot = randomUUID();
    expect(parseLock(`42\nnode-a\nfuture=1\nboot=${boot}\npidns=4026531836\nstart=99\n`)).toEqual({
      pid: 42,
      host: 'node-a',
      boot,
      pidns: '4026531836',
      start: 99,
    });
    expect(parseLock('42\nnode-a\nboot=not-a-uuid\npidns=x\nstart=-1\n')).toEqual({
      ...none,
      pid: 42,
      host: 'node-a',
    });
    expect(parseLock('0\n')).toBeUndefined();
    expect(parseLock('garbage')).toBeUndefined();
  });

  it('reads the start time after the last parenthesis of the command name', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)).join(' ');
    expect(parseStartTicks(`7 (a) b (c) ${fields}`)).toBe(22);
    expect(parseStartTicks('7 (short) S 1')).toBeUndefined();
  });
});
