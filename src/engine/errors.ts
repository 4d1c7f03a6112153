/**
 * The one error taxonomy of kubekms (docs/errors.md). Codes are the AWS KMS exception names, so the AWS adapter
 * maps them one-to-one; each adapter maps them once, with an exhaustive table: toGrpcError
 * (kmsv2/grpc-errors.ts), toHttpError (aws/errors.ts), refusalOf (operator/error-reasons.ts). Every code has a
 * kind, which says whom the error is about and whether retrying can help.
 */
export const ERROR_CODES = [
  'NotFoundException',
  'AlreadyExistsException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'InvalidGrantTokenException',
  'InvalidGrantIdException',
  'InvalidAliasNameException',
  'InvalidMarkerException',
  'AccessDeniedException',
  'ValidationException',
  'KMSInvalidSignatureException',
  'KMSInvalidMacException',
  'MalformedPolicyDocumentException',
  'LimitExceededException',
  'TagException',
  'UnsupportedOperationException',
  'DependencyTimeoutException',
  'KMSInternalException',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * - `user`: the request is wrong (bad input, unknown or wrong key, not allowed); the same request fails again.
 * - `conflict`: the request is well formed but the current state refuses it (a key disabled or pending deletion,
 *   a name taken, a quota reached); it can succeed once the state changes.
 * - `unavailable`: a dependency did not answer in time; retrying later can help.
 * - `internal`: kubekms itself failed (a broken invariant, a bug); the message reveals nothing secret.
 */
export type ErrorKind = 'user' | 'conflict' | 'unavailable' | 'internal';

export const ERROR_KIND: Readonly<Record<ErrorCode, ErrorKind>> = {
  NotFoundException: 'user',
  AlreadyExistsException: 'conflict',
  DisabledException: 'conflict',
  KMSInvalidStateException: 'conflict',
  InvalidCiphertextException: 'user',
  IncorrectKeyException: 'user',
  InvalidKeyUsageException: 'user',
  InvalidGrantTokenException: 'user',
  InvalidGrantIdException: 'user',
  InvalidAliasNameException: 'user',
  InvalidMarkerException: 'user',
  AccessDeniedException: 'user',
  ValidationException: 'user',
  KMSInvalidSignatureException: 'user',
  KMSInvalidMacException: 'user',
  MalformedPolicyDocumentException: 'user',
  LimitExceededException: 'conflict',
  TagException: 'user',
  UnsupportedOperationException: 'user',
  DependencyTimeoutException: 'unavailable',
  KMSInternalException: 'internal',
};

export class KmsError extends Error {
  readonly code: ErrorCode;
  /** The request field the error is about, when there is one (for Validation errors always). */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = code;
    this.code = code;
    this.field = field;
  }

  get kind(): ErrorKind {
    return ERROR_KIND[this.code];
  }
}

export const isKmsError = (e: unknown): e is KmsError => e instanceof KmsError;

export function validation(field: string, problem: string): KmsError {
  return new KmsError('ValidationException', `${field}: ${problem}`, field);
}

export function notFound(what: string): KmsError {
  return new KmsError('NotFoundException', `${what} does not exist`);
}

/** The only message a failed decryption may carry (invariant 5): it never says which check failed. */
export function invalidCiphertext(): KmsError {
  return new KmsError('InvalidCiphertextException', 'invalid ciphertext');
}
