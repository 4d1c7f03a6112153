/** The engine's error taxonomy mapped once to gRPC status codes for the KMS v2 plugin (docs/errors.md). */
import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { type ErrorCode, isKmsError } from '../engine/errors.ts';

/** Exhaustive: a new engine code does not compile until it has a gRPC status here. */
export const GRPC_STATUS_OF: Readonly<Record<ErrorCode, GrpcStatus>> = {
  NotFoundException: GrpcStatus.NOT_FOUND,
  AlreadyExistsException: GrpcStatus.ALREADY_EXISTS,
  DisabledException: GrpcStatus.FAILED_PRECONDITION,
  KMSInvalidStateException: GrpcStatus.FAILED_PRECONDITION,
  InvalidCiphertextException: GrpcStatus.INVALID_ARGUMENT,
  IncorrectKeyException: GrpcStatus.INVALID_ARGUMENT,
  InvalidKeyUsageException: GrpcStatus.FAILED_PRECONDITION,
  InvalidGrantTokenException: GrpcStatus.INVALID_ARGUMENT,
  InvalidGrantIdException: GrpcStatus.INVALID_ARGUMENT,
  InvalidAliasNameException: GrpcStatus.INVALID_ARGUMENT,
  InvalidMarkerException: GrpcStatus.INVALID_ARGUMENT,
  AccessDeniedException: GrpcStatus.PERMISSION_DENIED,
  ValidationException: GrpcStatus.INVALID_ARGUMENT,
  KMSInvalidSignatureException: GrpcStatus.INVALID_ARGUMENT,
  KMSInvalidMacException: GrpcStatus.INVALID_ARGUMENT,
  MalformedPolicyDocumentException: GrpcStatus.INVALID_ARGUMENT,
  LimitExceededException: GrpcStatus.RESOURCE_EXHAUSTED,
  TagException: GrpcStatus.INVALID_ARGUMENT,
  UnsupportedOperationException: GrpcStatus.UNIMPLEMENTED,
  DependencyTimeoutException: GrpcStatus.UNAVAILABLE,
  KMSInternalException: GrpcStatus.INTERNAL,
};

export function toGrpcError(e: unknown): ServiceError {
  const code = isKmsError(e) ? GRPC_STATUS_OF[e.code] : GrpcStatus.INTERNAL;
  const details = isKmsError(e) ? `${e.code}: ${e.message}` : 'internal error';
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

export function grpcCodeName(code: GrpcStatus): string {
  return GrpcStatus[code] ?? String(code);
}
