/**
 * ReencryptApi over HTTPS with the credentials of a kubeconfig (client-node's applyToHTTPSOptions): raw JSON in
 * and out, so an object is sent back exactly as it was read (no model classes that could drop fields).
 */
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { isNotFound, normalizeKubeError } from '../kube/errors.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import {
  type ListPage,
  type RawObject,
  type ReencryptApi,
  resourcePath,
  type ServedResource,
  splitResource,
} from './reencrypt-api.ts';

const TIMEOUT_MS = 30_000;
/** Credentials (e.g. a projected service-account token) are read again this often. */
const CREDENTIALS_TTL_MS = 60_000;

interface Discovery {
  readonly resources?: readonly {
    name: string;
    kind: string;
    namespaced: boolean;
    verbs?: readonly string[];
  }[];
}

export function httpReencryptApi(kc: KubeConfig): ReencryptApi {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  // applyToHTTPSOptions builds a new Agent (a new TLS handshake) on every call: apply it once a minute and keep
  // one keep-alive agent with the same TLS options.
  let creds:
    | { at: number; agent: Agent | undefined; headers: Record<string, unknown>; auth?: string }
    | undefined;
  async function credentials() {
    if (creds && Date.now() - creds.at < CREDENTIALS_TTL_MS) return creds;
    const o: RequestOptions = {};
    await kc.applyToHTTPSOptions(o);
    const agent =
      creds?.agent ??
      (server.protocol === 'https:'
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
    creds = { at: Date.now(), agent, headers: { ...(o.headers ?? {}) }, ...(o.auth ? { auth: o.auth } : {}) };
    return creds;
  }

  async function call<T>(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
    const c = await credentials();
    const opts: RequestOptions = {
      method,
      hostname: server.hostname,
      port: server.port || (server.protocol === 'https:' ? 443 : 80),
      path: `${server.pathname.replace(/\/$/, '')}${path}`,
      headers: {
        ...(c.headers as Record<string, string>),
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      timeout: TIMEOUT_MS,
      ...(c.agent ? { agent: c.agent } : {}),
      ...(c.auth ? { auth: c.auth } : {}),
    };
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const send = server.protocol === 'https:' ? httpsRequest : httpRequest;
    const { code, text } = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = send(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(data);
    });
    if (code < 200 || code > 299) throw normalizeKubeError({ code, body: text });
    return JSON.parse(text) as T;
  }

  return {
    async resolve(name: string): Promise<ServedResource | undefined> {
      const { plural, group } = splitResource(name);
      let version = 'v1';
      if (group) {
        try {
          const g = await call<{ preferredVersion?: { version: string } }>('GET', `/apis/${group}`);
          if (!g.preferredVersion) return undefined;
          version = g.preferredVersion.version;
        } catch (e) {
          if (isNotFound(e)) return undefined;
          throw e;
        }
      }
      const d = await call<Discovery>('GET', group ? `/apis/${group}/${version}` : '/api/v1');
      const r = d.resources?.find((x) => x.name === plural);
      if (!r || !(r.verbs ?? []).includes('update') || !(r.verbs ?? []).includes('list')) return undefined;
      return { name, group, version, plural, kind: r.kind, namespaced: r.namespaced };
    },

    async list(r: ServedResource, limit: number, cont: string | undefined): Promise<ListPage> {
      const q = new URLSearchParams({ limit: String(limit) });
      if (cont) q.set('continue', cont);
      const l = await call<{
        items?: RawObject[];
        metadata?: { continue?: string; remainingItemCount?: number };
      }>('GET', `${resourcePath(r)}?${q}`);
      return {
        items: l.items ?? [],
        ...(l.metadata?.continue ? { continue: l.metadata.continue } : {}),
        ...(l.metadata?.remainingItemCount !== undefined
          ? { remainingItemCount: l.metadata.remainingItemCount }
          : {}),
      };
    },

    async replace(r: ServedResource, o: RawObject): Promise<void> {
      const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
      await call('PUT', resourcePath(r, o.metadata.namespace, o.metadata.name), {
        ...o,
        apiVersion,
        kind: r.kind,
      });
    },

    async get(
      r: ServedResource,
      namespace: string | undefined,
      name: string,
    ): Promise<RawObject | undefined> {
      try {
        return await call<RawObject>('GET', resourcePath(r, namespace, name));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
  };
}
