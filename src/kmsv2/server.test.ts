/**
 * The KMS v2 plugin through its real unix socket, driven by a client that behaves like kube-apiserver.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  Client,
  credentials,
  status as GrpcStatus,
  makeGenericClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadKmsV2Service } from '../api/kmsv2-proto.ts';
import { parseFlags } from '../cli/flags.ts';
import { type Running, serve } from '../cli/serve.ts';
import { serveConfig } from '../cli/serve-config.ts';
import { SERVE_FLAGS } from '../cli/serve-flags.ts';
import { disableKey, enableKey } from '../engine/ops-keys.ts';
import { rotateKeyOnDemand } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { ApiserverLikeClient } from './testing/apiserver-client.ts';

let dir: string;
let socket: string;
let logs: string;
const running: Running[] = [];
const clients: ApiserverLikeClient[] = [];

async function start(extra: string[] = []): Promise<Running> {
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  const { values } = parseFlags(
    SERVE_FLAGS,
    ['--dev', '--data-dir', dir, '--kms-socket', socket, '--health-listen', '127.0.0.1:0', ...extra],
    {},
  );
  const r = await serve(serveConfig(values, {}), sink);
  running.push(r);
  return r;
}

async function stop(r: Running): Promise<void> {
  await r.stop();
  running.splice(running.indexOf(r), 1);
}

function client(authority: 'localhost' | 'socket-path' = 'localhost'): ApiserverLikeClient {
  const c = new ApiserverLikeClient(socket, authority);
  clients.push(c);
  return c;
}

const grpcCode = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return GrpcStatus[(e as { code: number }).code] ?? 'unknown';
  }
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-kmsv2-'));
  socket = join(dir, 'run', 'kms.sock');
  logs = '';
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const r of running.splice(0)) await r.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('KMS v2 plugin over its socket', () => {
  for (const authority of ['localhost', 'socket-path'] as const) {
    it(`serves Status, Encrypt and Decrypt as kube-apiserver calls them (:authority ${authority})`, async () => {
      await start();
      const c = client(authority);
      const s = await c.status();
      expect(s).toMatchObject({ version: 'v2', healthz: 'ok' });
      expect(s.keyId).toMatch(/^kubekms:[0-9a-f-]{36}:v1$/);
      const seed = randomBytes(32);
      const enc = await c.encrypt(seed, s.keyId);
      expect(enc.ciphertext.length).toBe(81);
      expect(enc.annotations).toEqual({});
      expect((await c.decrypt(enc.ciphertext, enc.keyId)).equals(seed)).toBe(true);
    });
  }

  it('creates the socket with mode 0600 and removes it on stop', async () => {
    const r = await start();
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    await stop(r);
    await expect(stat(socket)).rejects.toThrow(/ENOENT/);
  });

  it('gives distinct ciphertexts for the same seed and for distinct seeds', async () => {
    await start();
    const c = client();
    const seed = randomBytes(32);
    const a = await c.encrypt(seed);
    const b = await c.encrypt(seed);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('still decrypts after a restart, with the same key_id', async () => {
    const r = await start();
    let c = client();
    const s1 = await c.status();
    const seed = randomBytes(32);
    const enc = await c.encrypt(seed, s1.keyId);
    c.close();
    await stop(r);
    await start();
    c = client();
    expect((await c.status()).keyId).toBe(s1.keyId);
    expect((await c.decrypt(enc.ciphertext, enc.keyId)).equals(seed)).toBe(true);
  });

  it('changes key_id on rotation and keeps decrypting what the old version wrapped', async () => {
    const r = await start();
    const c = client();
    const s1 = await c.status();
    const seed = randomBytes(32);
    const old = await c.encrypt(seed, s1.keyId);
    await rotateKeyOnDemand(r.core, { caller: SYSTEM }, 'alias/kubekms/secrets');
    const s2 = await c.status();
    expect(s2.keyId).not.toBe(s1.keyId);
    expect(s2.keyId).toMatch(/:v2$/);
    const fresh = await c.encrypt(seed, s2.keyId);
    expect(fresh.keyId).toBe(s2.keyId);
    expect((await c.decrypt(old.ciphertext, old.keyId)).equals(seed)).toBe(true);
    expect((await c.decrypt(fresh.ciphertext, fresh.keyId)).equals(seed)).toBe(true);
  });

  it('refuses bad input with the right gRPC code, keeps serving, and logs the uid but never plaintext', async () => {
    await start();
    const c = client();
    const seed = randomBytes(32);
    const s = await c.status();
    const enc = await c.encrypt(seed, s.keyId);
    const tampered = Buffer.from(enc.ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    const otherVersion = s.keyId.replace(/:v1$/, ':v7');
    expect(await grpcCode(c.decrypt(Buffer.alloc(0), enc.keyId))).toBe('INVALID_ARGUMENT');
    expect(await grpcCode(c.decrypt(randomBytes(2000), enc.keyId))).toBe('INVALID_ARGUMENT');
    expect(await grpcCode(c.decrypt(tampered, enc.keyId))).toBe('INVALID_ARGUMENT');
    expect(await grpcCode(c.decrypt(enc.ciphertext, otherVersion))).toBe('NOT_FOUND');
    expect(await grpcCode(c.decrypt(enc.ciphertext, 'kubekms:00000000-0000-4000-8000-000000000000:v1'))).toBe(
      'NOT_FOUND',
    );
    expect(await grpcCode(c.decrypt(enc.ciphertext, 'aws-key-123'))).toBe('NOT_FOUND');
    expect(
      await grpcCode(c.decrypt(enc.ciphertext, enc.keyId, { 'v.kubekms.io': new Uint8Array([1]) })),
    ).toBe('INVALID_ARGUMENT');
    expect(await grpcCode(c.decrypt(enc.ciphertext, enc.keyId, {}, ''))).toBe('INVALID_ARGUMENT');
    expect(await grpcCode(c.encrypt(Buffer.alloc(0)))).toBe('INVALID_ARGUMENT');
    expect(await grpcCode(c.decrypt(enc.ciphertext, enc.keyId, {}, 'uid-for-the-log'))).toBe('OK');
    // Garbage bytes on the socket: the connection dies, the server does not.
    await new Promise<void>((resolve) => {
      const sock = connect(socket, () => sock.write(randomBytes(4096)));
      const done = () => {
        sock.destroy();
        resolve();
      };
      sock.on('close', done);
      sock.on('error', done);
      setTimeout(done, 1000);
    });
    expect((await c.decrypt(enc.ciphertext, enc.keyId)).equals(seed)).toBe(true);
    expect(logs).toContain('"method":"Decrypt"');
    for (const secret of [seed.toString('base64'), seed.toString('hex')]) expect(logs).not.toContain(secret);
  });

  it('answers a malformed protobuf and an empty uid INVALID_ARGUMENT naming the field, and counts them', async () => {
    const r = await start();
    const raw = new Client(`unix://${socket}`, credentials.createInsecure());
    const call = (method: string, body: Buffer) =>
      new Promise<{ code: string; details: string }>((resolve) =>
        raw.makeUnaryRequest(
          `/v2.KeyManagementService/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (e) => resolve({ code: e ? (GrpcStatus[e.code] ?? '?') : 'OK', details: e?.details ?? '' }),
        ),
      );
    // Field 1 (length-delimited) claims 255 bytes that are not there.
    const truncated = Buffer.from([0x0a, 0xff, 0x01]);
    for (const method of ['Status', 'Encrypt', 'Decrypt']) {
      expect(await call(method, truncated)).toEqual({
        code: 'INVALID_ARGUMENT',
        details: `ValidationException: request: not a valid ${method}Request protobuf message`,
      });
    }
    const Ctor = makeGenericClientConstructor(loadKmsV2Service(), 'KeyManagementService');
    const typed = new Ctor(`unix://${socket}`, credentials.createInsecure()) as unknown as Record<
      'Encrypt' | 'Decrypt',
      (req: object, cb: (e: ServiceError | null) => void) => void
    >;
    const refusal = (method: 'Encrypt' | 'Decrypt', req: object) =>
      new Promise<string>((resolve) =>
        typed[method].call(typed, req, (e) => resolve(e ? `${GrpcStatus[e.code]} ${e.details}` : 'OK')),
      );
    const s = await client().status();
    const enc = await client().encrypt(randomBytes(32), s.keyId);
    expect(await refusal('Encrypt', { plaintext: randomBytes(32), uid: '' })).toBe(
      'INVALID_ARGUMENT ValidationException: uid: must not be empty',
    );
    expect(await refusal('Decrypt', { ciphertext: enc.ciphertext, key_id: enc.keyId, uid: '' })).toBe(
      'INVALID_ARGUMENT ValidationException: uid: must not be empty',
    );
    raw.close();
    (typed as unknown as Client).close();
    const text = await (await fetch(`http://${r.health!.address}/metrics`)).text();
    expect(text).toMatch(/kubekms_kmsv2_requests_total\{method="Status",code="INVALID_ARGUMENT"\} 1/);
    expect(text).toMatch(/kubekms_kmsv2_requests_total\{method="Encrypt",code="INVALID_ARGUMENT"\} 2/);
    expect(text).toMatch(/kubekms_kmsv2_requests_total\{method="Decrypt",code="INVALID_ARGUMENT"\} 2/);
  });

  it('fails Status with a gRPC error while the Secrets key is disabled, and refuses Encrypt and Decrypt', async () => {
    const r = await start();
    const c = client();
    const s = await c.status();
    const enc = await c.encrypt(randomBytes(32), s.keyId);
    const keyId = r.core.resolve('alias/kubekms/secrets').record.keyId;
    // Users cannot disable the cluster-managed key; kubekms itself (the operator) can.
    await disableKey(r.core, { caller: SYSTEM }, keyId);
    expect(await grpcCode(c.status())).toBe('FAILED_PRECONDITION');
    expect(await grpcCode(c.encrypt(randomBytes(32)))).toBe('FAILED_PRECONDITION');
    expect(await grpcCode(c.decrypt(enc.ciphertext, enc.keyId))).toBe('FAILED_PRECONDITION');
    expect(r.plugin!.readiness().ok).toBe(false);
    await enableKey(r.core, { caller: SYSTEM }, keyId);
    expect((await c.status()).healthz).toBe('ok');
  });

  it('recovers a stale socket left by a killed process, and refuses a live one', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'run'), { recursive: true });
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
    ]);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await expect(start()).rejects.toThrow(/another process is serving/);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect((await stat(socket)).isSocket()).toBe(true);
    await start();
    expect((await client().status()).healthz).toBe('ok');
    expect(logs).toContain('removed a stale socket');
  });

  it('refuses to remove a path that is not a socket', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(dir, 'run'), { recursive: true });
    await writeFile(socket, 'precious');
    await expect(start()).rejects.toThrow(/is not a socket/);
  });

  it('reports v2beta1 when asked, and exports request metrics', async () => {
    const r = await start(['--kmsv2-api-version', 'v2beta1']);
    const c = client();
    expect((await c.status()).version).toBe('v2beta1');
    const res = await fetch(`http://${r.health!.address}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/kubekms_kmsv2_requests_total\{method="Status",code="OK"\} 1/);
    expect(text).toMatch(/kubekms_kmsv2_key_id_info\{key_id_hash="[0-9a-f]{64}"\} 1/);
    expect((await fetch(`http://${r.health!.address}/readyz`)).status).toBe(200);
    expect(text).toMatch(/kubekms_keys\{state="Enabled",spec="SYMMETRIC_DEFAULT"\} 1/);
    expect(text).toMatch(/kubekms_kmsv2_healthy 1/);
  });
});
