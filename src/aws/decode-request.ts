/**
 * Decoding a request body: the content type is AWS JSON 1.1 (or plain JSON), the body is a JSON object
 * (SerializationException otherwise), and its members match the operation's input shape (decode-input.ts).
 */
import { decodeInput, type Input } from './decode-input.ts';
import { AwsError } from './errors.ts';

export const CONTENT_TYPE = 'application/x-amz-json-1.1';

function checkContentType(contentType: string): void {
  const type = contentType === CONTENT_TYPE ? contentType : contentType.split(';')[0]!.trim().toLowerCase();
  if (type !== CONTENT_TYPE && type !== 'application/json') {
    throw new AwsError('SerializationException', `Content-Type must be ${CONTENT_TYPE} or application/json`);
  }
}

function parseJsonObject(body: Buffer): object {
  if (body.length === 0) return {};
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AwsError('SerializationException', 'The request body is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new AwsError('SerializationException', 'The request body must be a JSON object');
  }
  return json;
}

/** The operation's input from a request's content type and body. */
export function decodeRequest(contentType: string, body: Buffer, inputShape: string | undefined): Input {
  checkContentType(contentType);
  return decodeInput(parseJsonObject(body), inputShape);
}
