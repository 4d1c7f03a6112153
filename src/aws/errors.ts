/**
 * Errors of the AWS API, mapped once: every engine KmsError code and every protocol or authentication failure
 * becomes an HTTP status and an AWS `__type`. Client faults are 400 (SDKs do not retry them); only the faults
 * AWS documents as retryable server faults are 5xx. Anything unexpected is KMSInternalException (500) with a
 * message that reveals nothing.
 */
import { isKmsError } from '../engine/errors.ts';

/** Codes the adapter itself raises, outside the engine's taxonomy. */
export type AdapterErrorCode =
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'ValidationException'
  | 'UnsupportedOperationException'
  | 'DryRunOperationException'
  | 'MalformedPolicyDocumentException'
  | 'LimitExceededException'
  | 'NotFoundException'
  | 'AccessDeniedException'
  | 'RequestEntityTooLargeException'
  | 'RequestTimeoutException'
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'KMSInternalException'
  | 'DependencyTimeoutException';

export class AwsError extends Error {
  readonly code: AdapterErrorCode;
  constructor(code: AdapterErrorCode, message: string) {
    super(message);
    this.name = code;
    this.code = code;
  }
}

/** HTTP status by `__type`; everything not listed is a 400 client fault. */
const STATUS: Readonly<Record<string, number>> = {
  KMSInternalException: 500,
  KeyUnavailableException: 500,
  DependencyTimeoutException: 503,
  DryRunOperationException: 412,
  RequestEntityTooLargeException: 413,
  RequestTimeoutException: 408,
};

export interface HttpError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  /** True when the error is ours, not the caller's (logged with the stack, never sent). */
  readonly unexpected: boolean;
}

export function toHttpError(e: unknown): HttpError {
  if (e instanceof AwsError || isKmsError(e)) {
    return { status: STATUS[e.code] ?? 400, type: e.code, message: e.message, unexpected: false };
  }
  return { status: 500, type: 'KMSInternalException', message: 'internal error', unexpected: true };
}

export function errorBody(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}
