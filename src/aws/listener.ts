/**
 * The HTTP(S) listener under the AWS API: node:http or node:https with the timeouts that cut off slow or stalled
 * clients, bound to its address.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

export interface ListenerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** PEM certificate chain and key: HTTPS. Without them the listener speaks plain HTTP. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly requestTimeoutMs: number;
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
  server.requestTimeout = o.requestTimeoutMs;
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
  return { server, endpoint: `${o.tls ? 'https' : 'http'}://${host}:${port}` };
}
