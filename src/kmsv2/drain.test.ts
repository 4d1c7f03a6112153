/**
 * SIGTERM under load: a child `kubekms serve` hammered by KMS v2 clients (and AWS API clients on keep-alive
 * connections, one of them stuck halfway through a request) stops taking KMS v2 calls at once, answers every call
 * it accepted, and exits 0 within the grace plus one second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from './testing/apiserver-client.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const GRACE_MS = 2_000;
const CLIENTS = 4;
const CALLS_IN_FLIGHT_PER_CLIENT = 16;

let dir: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-drain-'));
});

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Starts serve; resolves once the plugin serves. `lines` collects its log lines in order. */
async function startServe(socket: string, lines: string[]): Promise<ChildProcess> {
  const p = spawn(
    process.execPath,
    [
      MAIN,
      'serve',
      '--dev',
      '--data-dir',
      join(dir, 'data'),
      '--kms-socket',
      socket,
      '--health-listen',
      '',
      '--aws-listen',
      '127.0.0.1:0',
    ],
    {
      env: { ...process.env, KUBEKMS_SHUTDOWN_GRACE: `${GRACE_MS}ms` },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let partial = '';
  p.stdout?.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (lines.some((l) => l.includes('AWS KMS API serving'))) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
    p.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`serve exited with ${code}`));
    });
  });
  return p;
}

interface Outcome {
  readonly startedAt: number;
  readonly code: string;
}

/** Keeps `inFlight` Encrypt calls outstanding on one connection until `stop()` says so. */
function hammer(c: ApiserverLikeClient, inFlight: number, stop: () => boolean, out: Outcome[]) {
  const seed = randomBytes(32);
  const worker = async () => {
    while (!stop()) {
      const startedAt = performance.now();
      const code = await c.encrypt(seed).then(
        () => 'OK',
        (e: { code?: number }) => GrpcStatus[e.code ?? -1] ?? String(e),
      );
      out.push({ startedAt, code });
      if (code !== 'OK') await new Promise((r) => setTimeout(r, 5));
    }
  };
  return Promise.all(Array.from({ length: inFlight }, worker));
}

const awsEndpoint = (lines: string[]) =>
  /"endpoint":"(http:[^"]+)"/.exec(lines.find((l) => l.includes('AWS KMS API serving')) ?? '')?.[1] ?? '';

/** A client that sends half a request and then nothing: the connection is never idle. */
async function holdHalfARequest(endpoint: string): Promise<Socket> {
  const { hostname, port } = new URL(endpoint);
  const s = createConnection(Number(port), hostname);
  await new Promise((resolve) => s.once('connect', resolve));
  s.on('error', () => undefined);
  s.write('POST / HTTP/1.1\r\nHost: kms\r\nContent-Length: 100\r\n\r\n{"Num');
  return s;
}

/** AWS API traffic on keep-alive connections (dev credential test/test) until `stop()`. */
function hammerAws(
  endpoint: string,
  inFlight: number,
  stop: () => boolean,
  out: { ok: number },
): Promise<unknown> {
  const c = new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const worker = async () => {
    while (!stop()) {
      const ok = await c.send(new GenerateRandomCommand({ NumberOfBytes: 32 })).then(
        () => true,
        () => false,
      );
      if (ok) out.ok++;
      else await new Promise((r) => setTimeout(r, 5));
    }
  };
  return Promise.all(Array.from({ length: inFlight }, worker)).finally(() => c.destroy());
}

describe('KMS v2 shutdown drain', () => {
  it('on SIGTERM under load takes no new calls, answers every accepted one, exits 0 within grace + 1 s', async () => {
    const socket = join(dir, 'kms.sock');
    const lines: string[] = [];
    const p = await startServe(socket, lines);
    child = p;
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      p.once('exit', (code) => resolve({ code, at: performance.now() })),
    );
    let stopping = false;
    const outcomes: Outcome[] = [];
    const aws = { ok: 0 };
    const clients = Array.from({ length: CLIENTS }, () => new ApiserverLikeClient(socket));
    const load = [
      ...clients.map((c) => hammer(c, CALLS_IN_FLIGHT_PER_CLIENT, () => stopping, outcomes)),
      hammerAws(awsEndpoint(lines), 8, () => stopping, aws),
    ];
    // Before this change, the AWS listener waited for this connection (up to its request timeout) while the
    // plugin kept serving: 1 216 KMS v2 calls accepted after SIGTERM here, no exit within grace + 5 s.
    const halfRequest = await holdHalfARequest(awsEndpoint(lines));
    // Under load: enough calls answered (on a busy machine that takes longer than on an idle one).
    for (let i = 0; i < 400 && outcomes.filter((o) => o.code === 'OK').length < 100; i++)
      await new Promise((r) => setTimeout(r, 50));
    const okBefore = outcomes.filter((o) => o.code === 'OK').length;
    const signalAt = performance.now();
    p.kill('SIGTERM');
    const exit = await Promise.race([
      exited,
      new Promise<{ code: number | null; at: number }>((r) =>
        setTimeout(() => r({ code: null, at: Number.POSITIVE_INFINITY }), GRACE_MS + 5_000),
      ),
    ]);
    stopping = true;
    await Promise.all(load);
    for (const c of clients) c.close();
    halfRequest.destroy();

    // The server's log: one "kmsv2 encrypt" line per accepted Encrypt, in order with the shutdown line.
    const shutdownLine = lines.findIndex((l) => l.includes('shutting down'));
    const accepted = lines.filter((l) => l.includes('"msg":"kmsv2 encrypt"')).length;
    const acceptedAfterSignal = lines
      .slice(shutdownLine + 1)
      .filter((l) => l.includes('"msg":"kmsv2 encrypt"')).length;
    const ok = outcomes.filter((o) => o.code === 'OK');
    const codes = new Set(outcomes.map((o) => o.code));
    console.log(
      `drain: ${okBefore} OK before SIGTERM, ${acceptedAfterSignal} accepted after it, exit ${exit.code} after ` +
        `${Math.round(exit.at - signalAt)} ms; codes ${[...codes].join(',')}; ${aws.ok} AWS calls OK`,
    );

    expect(shutdownLine).toBeGreaterThan(0);
    expect(okBefore).toBeGreaterThanOrEqual(100); // it was under load
    // Only calls already in flight at the signal are answered after it: at most one per outstanding call.
    expect(acceptedAfterSignal).toBeLessThanOrEqual(CLIENTS * CALLS_IN_FLIGHT_PER_CLIENT);
    // Nothing a client sent after the signal plus the time to deliver it was accepted.
    expect(ok.filter((o) => o.startedAt > signalAt + 500)).toEqual([]);
    // Every accepted call was answered OK; the rest were refused as UNAVAILABLE (the apiserver retries).
    expect(ok.length).toBe(accepted);
    expect([...codes].filter((c) => c !== 'OK' && c !== 'UNAVAILABLE')).toEqual([]);
    expect(exit.code).toBe(0);
    expect(exit.at - signalAt).toBeLessThanOrEqual(GRACE_MS + 1_000);
  });
});
