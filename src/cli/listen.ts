/** `HOST:PORT` listener flags (--health-listen, --aws-listen): parsed once, with a usage error naming the flag. */
import { UsageError } from './flags.ts';

export interface Listen {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, an IPv6 host in brackets (`[::1]:9810`); port 0 picks a free port. */
export function parseListen(value: string, flag: string): Listen {
  const i = value.lastIndexOf(':');
  const portText = value.slice(i + 1);
  const port = Number(portText);
  const host = value.slice(0, i).replace(/^\[|\]$/g, '');
  if (i <= 0 || !host || !/^\d+$/.test(portText) || port > 65535) {
    throw new UsageError(`--${flag}: expected HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
