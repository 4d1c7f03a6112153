/**
 * Helpers for benchmarks that run kubekms as a child process: its resident memory, HTTP readiness polls, free
 * ports, and a seeded keystore.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import type { KeyStore, RootKey } from '../../src/engine/ports.ts';
import type { KeyRecord } from '../../src/engine/records.ts';
import { minimalKey } from '../../src/keystore/testdata/sample-records.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process, from /proc (Linux). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/**
 * The private part of a process's resident memory (RssAnon: heap, stacks, buffers) in MiB; the rest of RSS is
 * file-backed pages — mostly the node binary's own code, shared by every node process on the host.
 */
export async function privateMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/RssAnon:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** User + system CPU of a process in ms (clock ticks of 10 ms, as Linux reports them in /proc/PID/stat). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Whether GET `url` answers 200 within a second. */
export function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Commits `n` minimal symmetric keys (ids 00000000-0000-4000-8000-<n>) to `store`, 10 000 per commit. */
export async function seedKeys(store: KeyStore, rootKey: RootKey, n: number): Promise<void> {
  await store.open();
  for (let i = 0; i < n; i += 10_000) {
    const keys: KeyRecord[] = [];
    for (let j = i; j < Math.min(n, i + 10_000); j++)
      keys.push(await minimalKey(rootKey, `00000000-0000-4000-8000-${String(j).padStart(12, '0')}`));
    await store.commit({ putKeys: keys });
  }
  await store.close();
}
