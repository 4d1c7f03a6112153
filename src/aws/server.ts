/**
 * The AWS-KMS-compatible HTTP listener: AWS JSON 1.1 over `POST /`, dispatched on `X-Amz-Target:
 * TrentService.<Operation>`, authenticated with SigV4. Per request, in order: method and path, body size
 * (64 KiB), SigV4, target, content type, JSON, the model's input shape, then the operation. Every response
 * carries `x-amzn-RequestId`; errors are `{"__type","message"}` with the status from errors.ts. One audit line
 * per request (never plaintext, keys, secrets or signatures) and the request metrics.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { EngineCore, RequestContext } from '../engine/core.ts';
import { isKmsError, KmsError } from '../engine/errors.ts';
import { checkGrantTokens } from '../engine/validate.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditLog } from './audit-log.ts';
import type { CredentialStore } from './credentials.ts';
import { decodeInput, type Input } from './decode-input.ts';
import { encodeOutput } from './encode-output.ts';
import { AwsError, errorBody, toHttpError } from './errors.ts';
import { MODEL, TARGET_PREFIX } from './model/model.ts';
import { OPERATIONS } from './operations.ts';
import type { Handler, OpResult } from './ops/types.ts';
import { ReplayCache } from './replay-cache.ts';
import { headerValues, MAX_SKEW_MS, SigV4Verifier } from './sigv4.ts';

export const MAX_BODY_BYTES = 64 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Operations whose model lists InvalidGrantTokenException (computed once, not per request). */
const TOKEN_ERROR_MODELLED: ReadonlySet<string> = new Set(
  Object.entries(MODEL.operations)
    .filter(([, m]) => m.errors?.some((e) => e.shape === 'InvalidGrantTokenException'))
    .map(([n]) => n),
);

export interface AwsServerOptions {
  readonly core: EngineCore;
  readonly credentials: CredentialStore;
  readonly listen: { readonly host: string; readonly port: number };
  /** PEM certificate chain and key: HTTPS. Without them the server speaks plain HTTP (the CLI allows that only on loopback). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly log: Logger;
  /** Where audit lines go; default: through `log` at info level. */
  readonly audit?: AuditLog;
  readonly metrics: Metrics;
  /** The region every SigV4 credential scope must name: the installation's ARN region. */
  readonly region: string;
  readonly maxBodyBytes?: number;
  readonly requestTimeoutMs?: number;
  readonly replayCacheSize?: number;
  /** The operation table; default: standalone (OPERATIONS). Cluster mode passes clusterOperations(…). */
  readonly operations?: Readonly<Record<string, Handler>>;
  readonly now?: () => number;
  /** Test hook: sees every response body sent. */
  readonly onResponse?: (r: { operation: string; status: number; body: string }) => void;
}

export interface AwsServer {
  readonly server: Server;
  /** `http(s)://host:port` */
  readonly endpoint: string;
  close(): Promise<void>;
}

interface Audit {
  operation: string;
  principal?: string;
  accessKeyId?: string;
  keyArn?: string;
  encryptionContextKeys?: string[];
}

const EC_MEMBERS = ['EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext'];

/** Keys of the encryption contexts of a request, for the audit line (values are never logged). */
function contextKeys(input: Input): string[] | undefined {
  const keys = new Set<string>();
  for (const m of EC_MEMBERS) {
    const ec = input[m];
    if (ec && typeof ec === 'object') for (const k of Object.keys(ec)) keys.add(k.slice(0, 128));
  }
  return keys.size ? [...keys].sort().slice(0, 64) : undefined;
}

function readBody(req: IncomingMessage, declaredLength: string | undefined, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(declaredLength);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new AwsError('RequestEntityTooLargeException', `Request body is larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new AwsError('RequestEntityTooLargeException', `Request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    // A client that disconnects, or is cut off by the request timeout, mid-body.
    req.on('error', () =>
      reject(
        new AwsError('RequestTimeoutException', 'The connection closed before the request body arrived'),
      ),
    );
  });
}

export async function startAwsServer(o: AwsServerOptions): Promise<AwsServer> {
  const limit = o.maxBodyBytes ?? MAX_BODY_BYTES;
  const operations = o.operations ?? OPERATIONS;
  const verifier = new SigV4Verifier({
    secretOf: (id) => o.credentials.get(id)?.secretAccessKey,
    region: o.region,
    replay: new ReplayCache(o.replayCacheSize ?? 200_000, MAX_SKEW_MS),
    ...(o.now ? { now: o.now } : {}),
  });

  async function run(req: IncomingMessage, audit: Audit): Promise<OpResult> {
    const url = req.url ?? '/';
    if (req.method !== 'POST' || (url !== '/' && !url.startsWith('/?'))) {
      throw new AwsError('UnknownOperationException', 'The AWS KMS API is served at POST /');
    }
    const headers = headerValues(req.rawHeaders);
    const body = await readBody(req, headers.get('content-length'), limit);
    const accessKeyId = verifier.verify(
      { method: 'POST', url: req.url ?? '/', rawHeaders: req.rawHeaders, body },
      headers,
    );
    const credential = o.credentials.get(accessKeyId)!;
    audit.accessKeyId = accessKeyId;
    audit.principal = credential.caller.name;

    const target = headers.get('x-amz-target') ?? '';
    const dot = target.indexOf('.');
    const name = dot < 0 ? '' : target.slice(dot + 1);
    const model = Object.hasOwn(MODEL.operations, name) ? MODEL.operations[name] : undefined;
    if (target.slice(0, dot) !== TARGET_PREFIX || !model) {
      throw new AwsError(
        'UnknownOperationException',
        `Unknown operation ${JSON.stringify(target.slice(0, 128))}`,
      );
    }
    audit.operation = name;
    const handler = Object.hasOwn(operations, name) ? operations[name] : undefined;
    if (!handler) throw new AwsError('UnsupportedOperationException', `${name} is not supported by kubekms`);

    const contentType = headers.get('content-type') ?? '';
    const type = contentType === CONTENT_TYPE ? contentType : contentType.split(';')[0]!.trim().toLowerCase();
    if (type !== CONTENT_TYPE && type !== 'application/json') {
      throw new AwsError(
        'SerializationException',
        `Content-Type must be ${CONTENT_TYPE} or application/json`,
      );
    }
    let json: unknown;
    if (body.length === 0) json = {};
    else {
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new AwsError('SerializationException', 'The request body is not valid JSON');
      }
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new AwsError('SerializationException', 'The request body must be a JSON object');
    }
    const input = decodeInput(json, model.input?.shape);
    const ecKeys = contextKeys(input);
    if (ecKeys) audit.encryptionContextKeys = ecKeys;
    const tokenErrorModelled = TOKEN_ERROR_MODELLED.has(name);
    try {
      const grantTokens = checkGrantTokens(input.GrantTokens);
      const ctx: RequestContext = grantTokens.length
        ? { caller: credential.caller, grantTokens }
        : { caller: credential.caller };
      return await handler({ core: o.core, ctx, input });
    } catch (e) {
      audit.keyArn ??= bestEffortArn(o.core, input);
      // DescribeKey takes GrantTokens but its model lists no InvalidGrantTokenException: a ValidationException there.
      if (isKmsError(e) && e.code === 'InvalidGrantTokenException' && !tokenErrorModelled) {
        throw new KmsError('ValidationException', e.message, e.field);
      }
      throw e;
    }
  }

  function send(
    res: ServerResponse,
    requestId: string,
    operation: string,
    status: number,
    body: string,
    errorType?: string,
  ) {
    // A flat header list: node:http's cheapest form (no header object to build, copy and validate twice).
    const headers = [
      'content-type',
      CONTENT_TYPE,
      'content-length',
      String(Buffer.byteLength(body)),
      'x-amzn-RequestId',
      requestId,
    ];
    if (errorType) headers.push('x-amzn-errortype', errorType);
    if (!res.destroyed && !res.headersSent) res.writeHead(status, headers).end(body);
    o.onResponse?.({ operation, status, body });
  }

  // Request ids: a random per-process prefix and a counter, in UUID form (unique, and cheaper than randomUUID).
  const idPrefix = randomUUID().slice(0, 24);
  let idCounter = 0;
  const nextRequestId = () => `${idPrefix}${(idCounter++ % 0x1000000000000).toString(16).padStart(12, '0')}`;
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(v: number): void }>();
  const count = (operation: string, result: string) => {
    const k = `${operation}\0${result}`;
    let c = counters.get(k);
    if (!c) {
      c = o.metrics.requests.labels({ api: 'aws', operation, result });
      counters.set(k, c);
    }
    c.inc();
  };
  const time = (operation: string, seconds: number) => {
    let t = timers.get(operation);
    if (!t) {
      t = o.metrics.requestDuration.labels({ api: 'aws', operation });
      timers.set(operation, t);
    }
    t.observe(seconds);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const requestId = nextRequestId();
    const audit: Audit = { operation: 'unknown' };
    run(req, audit).then(
      (result) => {
        if (result.keyArn) audit.keyArn = result.keyArn;
        finish(200, 'ok');
        send(res, requestId, audit.operation, 200, encodeOutput(result.body));
      },
      (e: unknown) => {
        const err = toHttpError(e);
        if (err.unexpected)
          o.log.error(
            { requestId, err: e instanceof Error ? e.stack : String(e) },
            'aws request failed unexpectedly',
          );
        finish(err.status, err.type);
        if (err.status === 413) {
          // The rest of the body is not read: answer, then close the connection.
          res.setHeader('connection', 'close');
          res.on('finish', () => req.destroy());
        }
        send(res, requestId, audit.operation, err.status, errorBody(err.type, err.message), err.type);
      },
    );

    function finish(status: number, result: string) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      count(audit.operation, result);
      time(audit.operation, seconds);
      // One fixed shape (absent members are undefined and left out of the JSON line).
      const entry = {
        audit: true,
        api: 'aws',
        requestId,
        operation: audit.operation,
        accessKeyId: audit.accessKeyId,
        principal: audit.principal,
        encryptionContextKeys: audit.encryptionContextKeys,
        keyArn: audit.keyArn,
        result,
        status,
        latencyMs: Math.round(seconds * 1e6) / 1e3,
      };
      if (o.audit) o.audit.write(entry);
      else o.log.info(entry, 'aws request');
    }
  };

  // Slow or stalled clients are cut off after requestTimeoutMs; check connections often enough for that.
  const interval = Math.min(1000, o.requestTimeoutMs ?? 30_000);
  const server = o.tls
    ? createHttpsServer(
        {
          cert: o.tls.cert,
          key: o.tls.key,
          minVersion: 'TLSv1.2',
          connectionsCheckingInterval: interval,
          noDelay: true,
        },
        handle,
      )
    : createHttpServer({ connectionsCheckingInterval: interval, noDelay: true }, handle);
  server.requestTimeout = o.requestTimeoutMs ?? 30_000;
  server.headersTimeout = Math.min(10_000, server.requestTimeout);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  const host =
    typeof a === 'object' && a ? (a.family === 'IPv6' ? `[${a.address}]` : a.address) : o.listen.host;
  const port = typeof a === 'object' && a ? a.port : o.listen.port;
  return {
    server: server as Server,
    endpoint: `${o.tls ? 'https' : 'http'}://${host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await o.audit?.close();
    },
  };
}

/** The key a failed request named, when it names one that exists (for the audit line only). */
function bestEffortArn(core: EngineCore, input: Input): string | undefined {
  for (const m of ['KeyId', 'TargetKeyId', 'DestinationKeyId', 'SourceKeyId']) {
    if (typeof input[m] !== 'string') continue;
    try {
      return core.arnOf(core.resolve(input[m]).record.keyId);
    } catch {
      // not a key of this installation
    }
  }
  return undefined;
}
