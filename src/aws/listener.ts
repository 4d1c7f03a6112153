/**
 * The HTTP(S) listener under the AWS API: node:http or node:https with the timeouts that cut off slow or stalled
 * clients, bound to its address.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http, https } from '../observability/node-http.ts';

export interface ListenerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** PEM certificate chain and key: HTTPS. Without them the listener speaks plain HTTP. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly requestTimeoutMs: number;
  /**
   * Connections held at once; one more is closed as soon as it is accepted, so that a flood of (idle)
   * connections never takes the descriptors the KMS v2 socket needs.
   */
  readonly maxConnections: number;
}

export interface Listener {
  readonly server: Server;
  /** `http(s)://host:port` */
  readonly endpoint: string;
}

export async function startListener(
  o: ListenerOptions,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listener> {
  // Slow or stalled clients are cut off after requestTimeoutMs; check connections often enough for that.
  const interval = Math.min(1000, o.requestTimeoutMs);
  const server: Server = o.tls
    ? https.createServer(
        {
          cert: o.tls.cert,
          key: o.tls.key,
          minVersion: 'TLSv1.2',
          connectionsCheckingInterval: interval,
          noDelay: true,
        },
        handle,
      )
    : http.createServer({ connectionsCheckingInterval: interval, noDelay: true }, handle);
  server.requestTimeout = o.requestTimeoutMs;
  server.headersTimeout = Math.min(10_000, server.requestTimeout);
  server.keepAliveTimeout = 5_000;
  server.maxConnections = o.maxConnections;
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
  return { server, endpoint: `${o.tls ? 'https' : 'http'}://${host}:${port}` };
}

/**
 * Stops taking connections at once and closes the idle ones; the busy ones close after their current answer
 * (the caller marks it `Connection: close`). Resolves when every connection has ended, cutting off what is left
 * after `graceMs`.
 */
export async function drainListener(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = Number.isFinite(graceMs) ? setTimeout(() => server.closeAllConnections(), graceMs) : undefined;
  try {
    await closed;
  } finally {
    clearTimeout(cut);
  }
}
