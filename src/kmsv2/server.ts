/**
 * The KMS v2 gRPC server on a unix socket: thin handlers over KmsV2Plugin, one per RPC, each timed and counted,
 * each logging the request uid and never plaintext. SIGTERM handling lives in the CLI, which calls stop() (drain).
 */
import {
  status as GrpcStatus,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { unixTarget } from '../api/unix-target.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { grpcCodeName, toGrpcError } from './grpc-errors.ts';
import { keyIdHash } from './key-id.ts';
import type { KmsV2Plugin } from './plugin.ts';
import { checkRequest, withTolerantDecoding } from './requests.ts';
import { KMS_V2_SERVICE } from './service.ts';
import {
  type BoundSocket,
  bindPrivately,
  prepareSocketPath,
  removeSocket,
  type SocketOptions,
} from './socket.ts';

interface EncryptRequest {
  plaintext: Buffer;
  uid: string;
}
interface DecryptRequest {
  ciphertext: Buffer;
  uid: string;
  key_id: string;
  annotations: Record<string, Buffer>;
}

export interface KmsV2Server {
  readonly socketPath: string;
  /** Stops taking calls and removes the socket at once, lets in-flight calls finish, cancels them at `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * One RPC's handler: checked, timed and counted. Metric children are bound once per method and the success path
 * allocates no closure (the Decrypt hot path).
 */
function rpcHandler(metrics: Metrics, log: Logger) {
  return <Req, Res>(method: 'Status' | 'Encrypt' | 'Decrypt', fn: (req: Req) => Res | Promise<Res>) => {
    const okCount = metrics.kmsv2Requests.labels({ method, code: 'OK' });
    const duration = metrics.kmsv2Duration.labels({ method });
    const fail = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>, e: unknown) => {
      const err = toGrpcError(e);
      metrics.kmsv2Requests.inc({ method, code: grpcCodeName(err.code) });
      const uid = (call.request as { uid?: unknown } | undefined)?.uid;
      log.warn(
        {
          method,
          uid: typeof uid === 'string' ? uid.slice(0, 128) : undefined,
          code: grpcCodeName(err.code),
          err: err.details,
        },
        'kmsv2 request failed',
      );
      callback(err);
    };
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const start = performance.now();
      try {
        checkRequest(method, call.request);
        const res = fn(call.request);
        // Synchronous on the hot path; a promise only when a Decrypt must first fetch a version (HA).
        if (res instanceof Promise) {
          res
            .then(
              (r) => {
                okCount.inc();
                callback(null, r);
              },
              (e: unknown) => fail(call, callback, e),
            )
            .finally(() => duration.observe((performance.now() - start) / 1000));
          return;
        }
        okCount.inc();
        callback(null, res);
      } catch (e) {
        fail(call, callback, e);
      }
      duration.observe((performance.now() - start) / 1000);
    };
  };
}

export async function startKmsV2Server(
  plugin: KmsV2Plugin,
  socket: SocketOptions,
  log: Logger,
  metrics: Metrics,
): Promise<KmsV2Server> {
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  let reportedKeyId = '';

  const handle = rpcHandler(metrics, log);

  const decrypt = (req: DecryptRequest): { plaintext: Buffer } => {
    const pt = plugin.decrypt(req.ciphertext, req.key_id, req.annotations, req.uid);
    return { plaintext: Buffer.from(pt.buffer, pt.byteOffset, pt.byteLength) };
  };

  server.addService(withTolerantDecoding(KMS_V2_SERVICE), {
    Status: handle<Record<string, never>, { version: string; healthz: string; key_id: string }>(
      'Status',
      () => {
        const s = plugin.status();
        metrics.kmsv2Healthy.set(s.healthz === 'ok' ? 1 : 0);
        if (s.keyId !== reportedKeyId) {
          if (reportedKeyId) metrics.kmsv2KeyIdInfo.remove({ key_id_hash: keyIdHash(reportedKeyId) });
          metrics.kmsv2KeyIdInfo.set({ key_id_hash: keyIdHash(s.keyId) }, 1);
          log.info({ keyIdHash: keyIdHash(s.keyId), keyId: s.keyId }, 'kmsv2 reporting key_id');
          reportedKeyId = s.keyId;
        }
        return { version: s.version, healthz: s.healthz, key_id: s.keyId };
      },
    ),
    Encrypt: handle<
      EncryptRequest,
      { ciphertext: Buffer; key_id: string; annotations: Record<string, Buffer> }
    >('Encrypt', (req) => {
      const out = plugin.encrypt(req.plaintext);
      log.info({ method: 'Encrypt', uid: req.uid.slice(0, 128), keyId: out.keyId }, 'kmsv2 encrypt');
      return { ciphertext: Buffer.from(out.ciphertext), key_id: out.keyId, annotations: {} };
    }),
    Decrypt: handle<DecryptRequest, { plaintext: Buffer }>('Decrypt', (req) => {
      const fetching = plugin.fetchMissing(req.key_id);
      return fetching ? fetching.then(() => decrypt(req)) : decrypt(req);
    }),
  });

  const removed = await prepareSocketPath(socket.path);
  if (removed === 'removed-stale')
    log.warn({ socket: socket.path }, 'removed a stale socket left by a previous process');
  const bound = await bindPrivately(socket, async (path) => {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(path), ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }).catch((e: unknown) => {
    server.forceShutdown();
    throw e;
  });
  log.info({ socket: socket.path, mode: (socket.mode ?? 0o600).toString(8) }, 'kmsv2 plugin serving');

  let stopped: Promise<void> | undefined;
  return {
    socketPath: socket.path,
    stop(graceMs = 10_000) {
      stopped ??= drain(server, socket.path, bound, graceMs);
      return stopped;
    },
  };
}

/**
 * Stops taking calls at once (the listener closes and every connection gets a GOAWAY: streams it has not seen
 * are refused and the client retries elsewhere), removes the socket, lets in-flight calls finish, and cancels
 * whatever is still running when the grace ends.
 */
async function drain(server: Server, path: string, bound: BoundSocket, graceMs: number): Promise<void> {
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  await removeSocket(path, bound);
  await done;
}

export { GrpcStatus };
