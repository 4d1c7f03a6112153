/**
 * One KMS v2 server process for the benchmarks (bench/kmsv2-server.ts: the real plugin or the no-op baseline) and
 * a grpc-js client of it with the two calls they measure: Decrypt of a real ciphertext, Encrypt of 32 bytes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { KMS_V2_SERVICE } from '../../src/kmsv2/service.ts';

export type Mode = 'kubekms' | 'noop';
export type Method = 'Decrypt' | 'Encrypt';

export interface Target {
  readonly pid: number;
  readonly calls: Record<Method, () => Promise<unknown>>;
  stop(): Promise<void>;
}

type Unary = (req: object, cb: (e: ServiceError | null, r: Record<string, unknown>) => void) => void;

export interface TargetOptions {
  /** Names the socket and data directory under `dir` (default: the mode); unique per server of a run. */
  readonly name?: string;
  /** Node flags for the server process. */
  readonly nodeArgs?: readonly string[];
  /** Another checkout (with node_modules) whose bench/kmsv2-server.ts to run: a `before` for comparisons. */
  readonly checkout?: string;
}

async function startServer(mode: Mode, dir: string, o: TargetOptions): Promise<ChildProcess> {
  const name = o.name ?? mode;
  const socket = join(dir, `${name}.sock`);
  const server = o.checkout
    ? join(o.checkout, 'bench/kmsv2-server.ts')
    : new URL('../kmsv2-server.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), server, mode, socket, join(dir, name)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)));
  });
  return child;
}

/** Starts a `mode` server with its socket and data in `dir`, and connects to it. */
export async function startTarget(mode: Mode, dir: string, o: TargetOptions = {}): Promise<Target> {
  const child = await startServer(mode, dir, o);
  const Ctor = makeGenericClientConstructor(KMS_V2_SERVICE, 'KeyManagementService');
  const c = new Ctor(`unix://${join(dir, `${o.name ?? mode}.sock`)}`, credentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
  }) as unknown as Record<'Status' | 'Encrypt' | 'Decrypt', Unary> & { close(): void };
  const call = (m: 'Status' | 'Encrypt' | 'Decrypt', req: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      c[m].call(c, req, (e, r) => (e ? reject(e) : resolve(r))),
    );
  const status = (await call('Status', {})) as { key_id: string };
  const enc = (await call('Encrypt', { plaintext: randomBytes(32), uid: randomUUID() })) as {
    ciphertext: Buffer;
  };
  const calls: Record<Method, () => Promise<unknown>> = {
    Decrypt: () =>
      call('Decrypt', {
        ciphertext: enc.ciphertext,
        key_id: status.key_id,
        uid: randomUUID(),
        annotations: {},
      }),
    Encrypt: () => call('Encrypt', { plaintext: randomBytes(32), uid: randomUUID() }),
  };
  const stop = async () => {
    c.close();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { pid: child.pid!, calls, stop };
}
