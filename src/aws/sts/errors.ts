/**
 * Errors of the STS query protocol (AssumeRoleWithWebIdentity), mapped once: each code is the `<Code>` of STS's
 * XML error document and has one HTTP status in an exhaustive table. The KMS side's own codes (errors.ts one
 * folder up) never appear here: a protocol failure met on the way (a body too large, a cut-off request) keeps
 * its code and status. Anything unexpected is InternalFailure (500) with a message that reveals nothing.
 */
import { AwsError, PROTOCOL_STATUS } from '../errors.ts';

export const STS_ERROR_CODES = [
  'InvalidIdentityToken',
  'ExpiredTokenException',
  'IDPCommunicationError',
  'IDPRejectedClaim',
  'ValidationError',
  'InvalidAction',
  'AccessDenied',
  'Throttling',
] as const;

export type StsErrorCode = (typeof STS_ERROR_CODES)[number];

export const STS_STATUS: Readonly<Record<StsErrorCode, number>> = {
  InvalidIdentityToken: 400,
  ExpiredTokenException: 400,
  IDPCommunicationError: 400,
  IDPRejectedClaim: 403,
  ValidationError: 400,
  InvalidAction: 400,
  AccessDenied: 403,
  Throttling: 400,
};

export class StsError extends Error {
  readonly code: StsErrorCode;
  constructor(code: StsErrorCode, message: string) {
    super(message);
    this.name = code;
    this.code = code;
  }
}

export interface StsHttpError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** True when the error is ours, not the caller's (logged with the stack, never sent). */
  readonly unexpected: boolean;
}

export function toStsHttpError(e: unknown): StsHttpError {
  if (e instanceof StsError) {
    return { status: STS_STATUS[e.code], code: e.code, message: e.message, unexpected: false };
  }
  if (e instanceof AwsError) {
    return { status: PROTOCOL_STATUS[e.code], code: e.code, message: e.message, unexpected: false };
  }
  return { status: 500, code: 'InternalFailure', message: 'internal error', unexpected: true };
}
