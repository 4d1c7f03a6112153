/**
 * The health listener: /livez (the process answers), /readyz (every registered check passes) and /metrics
 * (Prometheus text format). Plain HTTP, meant for loopback or a pod network; it serves nothing secret.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { http } from './node-http.ts';

export type ReadinessCheck = () => { ok: boolean; detail: string };

export interface HealthServer {
  readonly server: Server;
  readonly address: string;
  close(): Promise<void>;
}

export async function startHealthServer(
  listen: { host: string; port: number; maxConnections?: number },
  registry: Registry,
  checks: Record<string, ReadinessCheck>,
): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/livez' || path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const results = Object.entries(checks).map(([name, check]) => ({ name, ...check() }));
      const ok = results.every((r) => r.ok);
      const body = results.map((r) => `[${r.ok ? '+' : '-'}]${r.name} ${r.detail}`).join('\n');
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' })
        .end(`${body}\n${ok ? 'ok' : 'not ready'}\n`);
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  // A flood of connections is closed as it arrives instead of taking the plugin socket's descriptors.
  server.maxConnections = listen.maxConnections ?? 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address();
  const address = typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a);
  return {
    server,
    address,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
