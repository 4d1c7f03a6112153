/** The engine's error taxonomy mapped once to gRPC status codes for the KMS v2 plugin. */
import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { type ErrorCode, isKmsError } from '../engine/errors.ts';

const CODE_OF: Partial<Record<ErrorCode, GrpcStatus>> = {
  ValidationException: GrpcStatus.INVALID_ARGUMENT,
  InvalidCiphertextException: GrpcStatus.INVALID_ARGUMENT,
  IncorrectKeyException: GrpcStatus.INVALID_ARGUMENT,
  NotFoundException: GrpcStatus.NOT_FOUND,
  DisabledException: GrpcStatus.FAILED_PRECONDITION,
  KMSInvalidStateException: GrpcStatus.FAILED_PRECONDITION,
  InvalidKeyUsageException: GrpcStatus.FAILED_PRECONDITION,
  AccessDeniedException: GrpcStatus.PERMISSION_DENIED,
  DependencyTimeoutException: GrpcStatus.UNAVAILABLE,
};

export function toGrpcError(e: unknown): ServiceError {
  const code = isKmsError(e) ? (CODE_OF[e.code] ?? GrpcStatus.INTERNAL) : GrpcStatus.INTERNAL;
  const details = isKmsError(e) ? `${e.code}: ${e.message}` : 'internal error';
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

export function grpcCodeName(code: GrpcStatus): string {
  return GrpcStatus[code] ?? String(code);
}
