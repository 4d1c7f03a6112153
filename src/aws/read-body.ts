/**
 * Reads a request body up to a byte limit: RequestEntityTooLargeException past it (declared or counted), and
 * RequestTimeoutException when the client disconnects, or is cut off by the request timeout, mid-body.
 */
import type { IncomingMessage } from 'node:http';
import { AwsError } from './errors.ts';

export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = (limit: number) =>
  new AwsError('RequestEntityTooLargeException', `Request body is larger than ${limit} bytes`);

export function readBody(
  req: IncomingMessage,
  declaredLength: string | undefined,
  limit: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(declaredLength);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', () =>
      reject(
        new AwsError('RequestTimeoutException', 'The connection closed before the request body arrived'),
      ),
    );
  });
}
