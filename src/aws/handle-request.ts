/**
 * One AWS API request, as named steps: authenticate → route → decode → invoke → respond (the order of the
 * checks: method and path, body size, SigV4, target, content type, JSON, the model's input shape, then the
 * operation). Every outcome is answered and recorded once. With --aws-sts, an STS query request (no
 * X-Amz-Target; a form body or a credential scope naming `sts`) goes to the STS handler instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EngineCore } from '../engine/core.ts';
import type { Logger } from '../observability/logger.ts';
import type { Authenticate } from './authenticate.ts';
import { decodeRequest } from './decode-request.ts';
import { encodeOutput } from './encode-output.ts';
import { errorBody, toHttpError } from './errors.ts';
import { invoke } from './invoke.ts';
import type { Handler, OpResult } from './ops/types.ts';
import { readBody } from './read-body.ts';
import { contextKeys, type RequestRecord, type RequestRecorder } from './request-record.ts';
import { respond } from './respond.ts';
import { checkEndpoint, handlerOf, operationOf } from './route.ts';
import { headerValues } from './sigv4.ts';
import { isStsRequest } from './sts/handle-sts.ts';

export interface PipelineDeps {
  readonly core: EngineCore;
  readonly authenticate: Authenticate;
  readonly operations: Readonly<Record<string, Handler>>;
  readonly maxBodyBytes: number;
  readonly log: Logger;
  readonly recorder: RequestRecorder;
  readonly nextRequestId: () => string;
  /** True once the server drains: every answer then closes its connection. */
  readonly draining: () => boolean;
  /** Test hook: sees every response body sent. */
  readonly onResponse?: (r: { operation: string; status: number; body: string }) => void;
  /** With --aws-sts: the handler of STS query requests (sts/handle-sts.ts), which it routes there. */
  readonly sts?: (req: IncomingMessage, res: ServerResponse) => void;
}

async function run(d: PipelineDeps, req: IncomingMessage, record: RequestRecord): Promise<OpResult> {
  checkEndpoint(req.method, req.url ?? '/');
  const headers = headerValues(req.rawHeaders);
  const body = await readBody(req, headers.get('content-length'), d.maxBodyBytes);
  const credential = await d.authenticate(req, headers, body);
  record.accessKeyId = credential.accessKeyId;
  record.principal = credential.caller.name;
  const { name, model } = operationOf(headers.get('x-amz-target') ?? '');
  record.operation = name;
  const handler = handlerOf(name, d.operations);
  const input = decodeRequest(headers.get('content-type') ?? '', body, model.input?.shape);
  const ecKeys = contextKeys(input);
  if (ecKeys) record.encryptionContextKeys = ecKeys;
  return invoke({ core: d.core, name, handler, credential, input }, record);
}

export function requestHandler(d: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (d.sts && isStsRequest(req.rawHeaders)) {
      d.sts(req, res);
      return;
    }
    const started = process.hrtime.bigint();
    const requestId = d.nextRequestId();
    const record: RequestRecord = { operation: 'unknown' };
    const answer = (status: number, result: string, body: string, errorType?: string) => {
      d.recorder.finish(requestId, record, status, result, Number(process.hrtime.bigint() - started) / 1e9);
      const close = d.draining() || status === 413;
      respond(res, { requestId, status, body, ...(errorType ? { errorType } : {}), close });
      d.onResponse?.({ operation: record.operation, status, body });
    };
    run(d, req, record).then(
      (result) => {
        if (result.keyArn) record.keyArn = result.keyArn;
        answer(200, 'ok', encodeOutput(result.body));
      },
      (e: unknown) => {
        const err = toHttpError(e);
        if (err.unexpected) {
          const detail = e instanceof Error ? e.stack : String(e);
          d.log.error({ requestId, err: detail }, 'aws request failed unexpectedly');
        }
        // A 413's body is not read: the connection closes once it is answered.
        if (err.status === 413) res.on('finish', () => req.destroy());
        answer(err.status, err.type, errorBody(err.type, err.message), err.type);
      },
    );
  };
}
