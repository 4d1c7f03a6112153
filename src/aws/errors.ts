/**
 * Errors of the AWS API, mapped once. Two vocabularies that never overlap: the engine's codes (engine/errors.ts,
 * raised as KmsError by the engine and by handlers) and the protocol's own codes (authentication, wire format,
 * throttling: raised as AwsError by this adapter only). Each maps to an HTTP status through an exhaustive table,
 * and its `__type` is the code itself (engine codes are the AWS exception names). Client faults are 400 (SDKs do
 * not retry them); only the faults AWS documents as retryable server faults are 5xx. Anything unexpected is
 * KMSInternalException (500) with a message that reveals nothing.
 */
import { type ErrorCode, isKmsError } from '../engine/errors.ts';

/** Codes of the AWS protocol itself, outside the engine's taxonomy. */
export const PROTOCOL_ERROR_CODES = [
  'UnknownOperationException',
  'SerializationException',
  'DryRunOperationException',
  'RequestEntityTooLargeException',
  'RequestTimeoutException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'UnrecognizedClientException',
  'ExpiredTokenException',
  'ThrottlingException',
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** Compile-time proof that no protocol code re-declares an engine code. */
type Overlap = Extract<ProtocolErrorCode, ErrorCode>;
const noOverlap: [Overlap] extends [never] ? true : never = true;
void noOverlap;

/** A failure of the protocol (never an engine condition: those are KmsError). */
export class AwsError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = code;
    this.code = code;
  }
}

/** HTTP status of every engine code: a new engine code does not compile until it is mapped here. */
export const ENGINE_STATUS: Readonly<Record<ErrorCode, number>> = {
  NotFoundException: 400,
  AlreadyExistsException: 400,
  DisabledException: 400,
  KMSInvalidStateException: 400,
  InvalidCiphertextException: 400,
  IncorrectKeyException: 400,
  InvalidKeyUsageException: 400,
  InvalidGrantTokenException: 400,
  InvalidGrantIdException: 400,
  InvalidAliasNameException: 400,
  InvalidMarkerException: 400,
  AccessDeniedException: 400,
  ValidationException: 400,
  KMSInvalidSignatureException: 400,
  KMSInvalidMacException: 400,
  MalformedPolicyDocumentException: 400,
  LimitExceededException: 400,
  TagException: 400,
  UnsupportedOperationException: 400,
  DependencyTimeoutException: 503,
  KMSInternalException: 500,
};

/** HTTP status of every protocol code. */
export const PROTOCOL_STATUS: Readonly<Record<ProtocolErrorCode, number>> = {
  UnknownOperationException: 400,
  SerializationException: 400,
  DryRunOperationException: 412,
  RequestEntityTooLargeException: 413,
  RequestTimeoutException: 408,
  MissingAuthenticationTokenException: 400,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 400,
  UnrecognizedClientException: 400,
  ExpiredTokenException: 400,
  ThrottlingException: 400,
};

export interface HttpError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  /** True when the error is ours, not the caller's (logged with the stack, never sent). */
  readonly unexpected: boolean;
}

export function toHttpError(e: unknown): HttpError {
  if (e instanceof AwsError) {
    return { status: PROTOCOL_STATUS[e.code], type: e.code, message: e.message, unexpected: false };
  }
  if (isKmsError(e)) {
    return { status: ENGINE_STATUS[e.code], type: e.code, message: e.message, unexpected: false };
  }
  return { status: 500, type: 'KMSInternalException', message: 'internal error', unexpected: true };
}

export function errorBody(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}
