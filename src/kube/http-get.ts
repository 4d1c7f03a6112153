/**
 * GET requests to the Kubernetes API with a kubeconfig's credentials (client-node's applyToHTTPSOptions), raw:
 * the doctor needs the status code, the `Date` header and the JSON body, with its own timeout.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from './kubeconfig.ts';

export interface KubeResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Local clock (epoch ms) when the request was sent and when its response ended. */
  readonly sentAt: number;
  readonly receivedAt: number;
}

export type KubeGet = (path: string, timeoutMs: number) => Promise<KubeResponse>;

export function kubeGetter(kc: KubeConfig): KubeGet {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  return async (path, timeoutMs) => {
    const o: RequestOptions = {};
    await kc.applyToHTTPSOptions(o);
    const opts: RequestOptions = {
      ...o,
      method: 'GET',
      hostname: server.hostname,
      port: server.port || (server.protocol === 'https:' ? 443 : 80),
      path: `${server.pathname.replace(/\/$/, '')}${path}`,
      headers: { ...(o.headers ?? {}), accept: 'application/json' },
      timeout: timeoutMs,
      agent: false,
    };
    const send = server.protocol === 'https:' ? httpsRequest : httpRequest;
    const sentAt = Date.now();
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = send(opts, (res) => {
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
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  };
}
