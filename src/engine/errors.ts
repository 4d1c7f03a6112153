/**
 * The one error taxonomy of kubekms. Codes are the AWS KMS exception names, so the AWS adapter maps them
 * one-to-one; the KMS v2 adapter maps them to gRPC codes and the operator to condition reasons, each in one
 * place (see errorToGrpc, errorToHttp, errorToReason).
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
