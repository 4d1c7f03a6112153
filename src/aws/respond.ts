/**
 * Responding: every answer is AWS JSON 1.1 with `x-amzn-RequestId` (errors also `x-amzn-errortype`), written as
 * one flat header list (node:http's cheapest form). Request ids are a random per-process prefix and a counter in
 * UUID form: unique, and cheaper than randomUUID per request.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { CONTENT_TYPE } from './decode-request.ts';

export function requestIds(): () => string {
  const prefix = randomUUID().slice(0, 24);
  let counter = 0;
  return () => `${prefix}${(counter++ % 0x1000000000000).toString(16).padStart(12, '0')}`;
}

export interface Answer {
  readonly requestId: string;
  readonly status: number;
  readonly body: string;
  readonly errorType?: string;
  /** Ask the client to close the connection after this answer (the body was not read, or the server drains). */
  readonly close?: boolean;
}

export function respond(res: ServerResponse, a: Answer): void {
  const headers = [
    'content-type',
    CONTENT_TYPE,
    'content-length',
    String(Buffer.byteLength(a.body)),
    'x-amzn-RequestId',
    a.requestId,
  ];
  if (a.errorType) headers.push('x-amzn-errortype', a.errorType);
  if (a.close) headers.push('connection', 'close');
  if (!res.destroyed && !res.headersSent) res.writeHead(a.status, headers).end(a.body);
}
