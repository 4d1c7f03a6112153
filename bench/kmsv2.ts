/**
 * KMS v2 plugin throughput and latency through the unix socket, against a no-op grpc-js server on the same kind
 * of socket, measured in the same run: `node bench/kmsv2.ts [seconds-per-point]`.
 * Each server runs in its own process; this process is the client (one grpc-js channel, like kube-apiserver).
 * Besides ops/s it reports each server's own CPU time per call (from /proc/PID/stat), which a busy machine
 * disturbs far less than throughput: "cpu ratio" is no-op CPU / kubekms CPU per call.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadKmsV2Service } from '../src/api/kmsv2-proto.ts';
import { fmt, type LoadResult, runLoad } from './lib/load.ts';

const seconds = Number(process.argv[2] ?? 3);
const CONCURRENCY = [1, 16, 64];
const dir = mkdtempSync(join(tmpdir(), 'kubekms-bench-'));

/** User + system CPU of a process in ms (clock ticks of 10 ms, as Linux reports them). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

type Point = LoadResult & { readonly cpuUsPerCall: number };

/** runLoad, plus the server's CPU per call (warm-up calls included on both sides of the division). */
async function measure(pid: number, call: () => Promise<unknown>, concurrency: number): Promise<Point> {
  let calls = 0;
  const counted = () => {
    calls++;
    return call();
  };
  const before = cpuMs(pid);
  const r = await runLoad(counted, concurrency, seconds * 1000);
  return { ...r, cpuUsPerCall: ((cpuMs(pid) - before) * 1000) / calls };
}

type Unary = (req: object, cb: (e: ServiceError | null, r: Record<string, unknown>) => void) => void;

async function startServer(mode: 'kubekms' | 'noop'): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, `${mode}.sock`);
  const child = spawn(
    process.execPath,
    [new URL('./kmsv2-server.ts', import.meta.url).pathname, mode, socket, join(dir, mode)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)));
  });
  return { child, socket };
}

function client(socket: string) {
  const Ctor = makeGenericClientConstructor(loadKmsV2Service(), 'KeyManagementService');
  const c = new Ctor(`unix://${socket}`, credentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
  }) as unknown as Record<'Status' | 'Encrypt' | 'Decrypt', Unary> & { close(): void };
  const call = (m: 'Status' | 'Encrypt' | 'Decrypt', req: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      c[m].call(c, req, (e, r) => (e ? reject(e) : resolve(r))),
    );
  return { call, close: () => c.close() };
}

async function measureServer(mode: 'kubekms' | 'noop') {
  const { child, socket } = await startServer(mode);
  const c = client(socket);
  const status = (await c.call('Status', {})) as { key_id: string };
  const enc = (await c.call('Encrypt', { plaintext: randomBytes(32), uid: randomUUID() })) as {
    ciphertext: Buffer;
    key_id: string;
  };
  const results: Record<string, Point[]> = { Encrypt: [], Decrypt: [] };
  const pid = child.pid!;
  for (const n of CONCURRENCY) {
    results.Decrypt!.push(
      await measure(
        pid,
        () =>
          c.call('Decrypt', {
            ciphertext: enc.ciphertext,
            key_id: status.key_id,
            uid: randomUUID(),
            annotations: {},
          }),
        n,
      ),
    );
    results.Encrypt!.push(
      await measure(pid, () => c.call('Encrypt', { plaintext: randomBytes(32), uid: randomUUID() }), n),
    );
  }
  c.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return results;
}

const noop = await measureServer('noop');
const kubekms = await measureServer('kubekms');
rmSync(dir, { recursive: true, force: true });

console.log(`KMS v2 over a unix socket, ${seconds} s per point, Node ${process.version}`);
console.log(
  '| method | concurrency | no-op ops/s | kubekms ops/s | ratio | kubekms p50 ms | kubekms p99 ms | no-op p99 ms | no-op CPU µs/call | kubekms CPU µs/call | cpu ratio |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const method of ['Decrypt', 'Encrypt'] as const) {
  for (let i = 0; i < CONCURRENCY.length; i++) {
    const a = noop[method]![i]!;
    const b = kubekms[method]![i]!;
    console.log(
      `| ${method} | ${a.concurrency} | ${fmt(a.opsPerSec)} | ${fmt(b.opsPerSec)} | ${fmt(b.opsPerSec / a.opsPerSec, 2)} | ${fmt(b.p50Ms, 3)} | ${fmt(b.p99Ms, 3)} | ${fmt(a.p99Ms, 3)} | ${fmt(a.cpuUsPerCall)} | ${fmt(b.cpuUsPerCall)} | ${fmt(a.cpuUsPerCall / b.cpuUsPerCall, 2)} |`,
    );
  }
}
