/**
 * Raw JSON requests to the Kubernetes API with a kubeconfig's credentials (client-node's applyToHTTPSOptions),
 * for callers that need what the generated clients hide: the status code and `Date` header (doctor), or an object
 * sent back exactly as it was read (re-encryption). One keep-alive agent; credentials (e.g. a projected
 * service-account token) are applied again once a minute.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from './kubeconfig.ts';

const CREDENTIALS_TTL_MS = 60_000;

export interface KubeResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Local clock (epoch ms) when the request was sent and when its response ended. */
  readonly sentAt: number;
  readonly receivedAt: number;
}

export type KubeRequest = (
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  path: string,
  opts: { readonly body?: unknown; readonly timeoutMs: number },
) => Promise<KubeResponse>;

export type KubeGet = (path: string, timeoutMs: number) => Promise<KubeResponse>;

interface Credentials {
  readonly at: number;
  readonly agent: Agent | undefined;
  readonly headers: Record<string, string>;
  readonly auth?: string;
}

/** Requests with the kubeconfig's current cluster and credentials. */
export function kubeRequester(kc: KubeConfig): KubeRequest {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const https = server.protocol === 'https:';
  let creds: Credentials | undefined;
  const credentials = async (): Promise<Credentials> => {
    if (!creds || Date.now() - creds.at >= CREDENTIALS_TTL_MS)
      creds = await applyCredentials(kc, https, creds);
    return creds;
  };
  return async (method, path, { body, timeoutMs }) => {
    const c = await credentials();
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const opts: RequestOptions = {
      method,
      hostname: server.hostname,
      port: server.port || (https ? 443 : 80),
      path: `${server.pathname.replace(/\/$/, '')}${path}`,
      headers: {
        ...c.headers,
        accept: 'application/json',
        ...(data ? { 'content-type': 'application/json' } : {}),
      },
      timeout: timeoutMs,
      ...(c.agent ? { agent: c.agent } : {}),
      ...(c.auth ? { auth: c.auth } : {}),
    };
    return send(https ? httpsRequest : httpRequest, opts, data, `${method} ${path}`, timeoutMs);
  };
}

/** GET requests, for the doctor. */
export function kubeGetter(kc: KubeConfig): KubeGet {
  const request = kubeRequester(kc);
  return (path, timeoutMs) => request('GET', path, { timeoutMs });
}

/**
 * applyToHTTPSOptions builds a new Agent (a new TLS handshake) on every call: keep the first keep-alive agent,
 * built with the same TLS options, and take only the headers and basic auth from later calls.
 */
async function applyCredentials(
  kc: KubeConfig,
  https: boolean,
  prev: Credentials | undefined,
): Promise<Credentials> {
  const o: RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const agent =
    prev?.agent ??
    (https
      ? new Agent({
          keepAlive: true,
          maxSockets: 32,
          ca: o.ca,
          cert: o.cert,
          key: o.key,
          ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
          ...(o.servername ? { servername: o.servername } : {}),
        })
      : undefined);
  const headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k, String(v)]));
  return { at: Date.now(), agent, headers, ...(o.auth ? { auth: o.auth } : {}) };
}

function send(
  request: typeof httpRequest,
  opts: RequestOptions,
  data: Buffer | undefined,
  what: string,
  timeoutMs: number,
): Promise<KubeResponse> {
  const sentAt = Date.now();
  return new Promise<KubeResponse>((resolve, reject) => {
    const req = request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          sentAt,
          receivedAt: Date.now(),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${what}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}
