/**
 * The STS side of the AWS listener: a request with no `X-Amz-Target` that is form-encoded or signed for the
 * service `sts` (isStsRequest) is an STS query call. Only AssumeRoleWithWebIdentity is served, unsigned as in
 * AWS (the web identity token is the credential). Answers are STS's XML documents with `x-amzn-RequestId`; one
 * audit line per request (never the token or the credentials) and the request metrics (operation
 * `AssumeRoleWithWebIdentity`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../observability/logger.ts';
import { readBody } from '../read-body.ts';
import type { RequestRecord, RequestRecorder } from '../request-record.ts';
import { checkEndpoint } from '../route.ts';
import type { AssumedRole } from './assume-role.ts';
import { StsError, toStsHttpError } from './errors.ts';
import { errorXml, parseForm, resultXml, STS_VERSION, XML_CONTENT_TYPE, type XmlTree } from './query.ts';

export const STS_ACTION = 'AssumeRoleWithWebIdentity';

/** Whether a request is for STS: no X-Amz-Target, and a form body or a credential scope naming `sts`. */
export function isStsRequest(rawHeaders: readonly string[]): boolean {
  let sts = false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === 'x-amz-target') return false;
    const v = rawHeaders[i + 1]!;
    if (name === 'content-type' && v.toLowerCase().startsWith('application/x-www-form-urlencoded'))
      sts = true;
    else if (name === 'authorization' && /\/sts\/aws4_request/.test(v)) sts = true;
  }
  return sts;
}

export interface StsDeps {
  readonly assume: (params: ReadonlyMap<string, string>) => Promise<AssumedRole>;
  readonly maxBodyBytes: number;
  readonly log: Logger;
  readonly recorder: RequestRecorder;
  readonly nextRequestId: () => string;
  readonly draining: () => boolean;
}

async function run(d: StsDeps, req: IncomingMessage, record: RequestRecord): Promise<XmlTree> {
  checkEndpoint(req.method, req.url ?? '/');
  const headers = req.headers;
  const body = await readBody(req, headers['content-length'], d.maxBodyBytes);
  const params = parseForm(body);
  const action = params.get('Action') ?? '';
  if (action !== STS_ACTION)
    throw new StsError(
      'InvalidAction',
      `kubekms serves the STS action ${STS_ACTION} only, not ${JSON.stringify(action.slice(0, 64))}`,
    );
  record.operation = STS_ACTION;
  const version = params.get('Version');
  if (version !== undefined && version !== STS_VERSION)
    throw new StsError('ValidationError', `Version: must be ${STS_VERSION}`);
  const assumed = await d.assume(params);
  record.principal = assumed.principal;
  record.accessKeyId = assumed.accessKeyId;
  return assumed.result;
}

export function stsRequestHandler(d: StsDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = process.hrtime.bigint();
    const requestId = d.nextRequestId();
    const record: RequestRecord = { operation: 'unknown' };
    const answer = (status: number, result: string, body: string) => {
      d.recorder.finish(requestId, record, status, result, Number(process.hrtime.bigint() - started) / 1e9);
      const headers = ['content-type', XML_CONTENT_TYPE, 'content-length', String(Buffer.byteLength(body))];
      headers.push('x-amzn-RequestId', requestId);
      if (d.draining() || status === 413) headers.push('connection', 'close');
      if (!res.destroyed && !res.headersSent) res.writeHead(status, headers).end(body);
    };
    run(d, req, record).then(
      (result) => answer(200, 'ok', resultXml(STS_ACTION, result, requestId)),
      (e: unknown) => {
        const err = toStsHttpError(e);
        if (err.unexpected) {
          const detail = e instanceof Error ? e.stack : String(e);
          d.log.error({ requestId, err: detail }, 'sts request failed unexpectedly');
        } else if (err.code === 'IDPCommunicationError') {
          d.log.warn({ requestId, err: err.message }, 'sts: the TokenReview failed');
        }
        if (err.status === 413) res.on('finish', () => req.destroy());
        answer(err.status, err.code, errorXml(err.code, err.message, err.status, requestId));
      },
    );
  };
}
