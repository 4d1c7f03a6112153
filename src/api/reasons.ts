/**
 * The engine's error taxonomy mapped once to condition reasons. Terminal errors (the spec asks for something the
 * engine refuses) are recorded and not retried until the object changes; transient ones are retried with backoff.
 */
import { type ErrorCode, isKmsError } from '../engine/errors.ts';

const REASON_OF: Readonly<Record<ErrorCode, string>> = {
  NotFoundException: 'KeyNotFound',
  AlreadyExistsException: 'Conflict',
  DisabledException: 'KeyDisabled',
  KMSInvalidStateException: 'InvalidKeyState',
  InvalidCiphertextException: 'EngineError',
  IncorrectKeyException: 'EngineError',
  InvalidKeyUsageException: 'InvalidKeyUsage',
  InvalidGrantTokenException: 'InvalidSpec',
  InvalidGrantIdException: 'GrantNotFound',
  InvalidAliasNameException: 'InvalidAliasName',
  InvalidMarkerException: 'EngineError',
  AccessDeniedException: 'AccessDenied',
  ValidationException: 'InvalidSpec',
  KMSInvalidSignatureException: 'EngineError',
  KMSInvalidMacException: 'EngineError',
  MalformedPolicyDocumentException: 'InvalidPolicy',
  LimitExceededException: 'LimitExceeded',
  TagException: 'InvalidTags',
  UnsupportedOperationException: 'UnsupportedOperation',
  DependencyTimeoutException: 'EngineError',
  KMSInternalException: 'EngineError',
};

export interface Refusal {
  readonly reason: string;
  readonly message: string;
  /** Retrying cannot help until the object (or what it refers to) changes. */
  readonly terminal: boolean;
}

/** Any error from an engine call as a condition reason. Non-engine errors (a failed disk write) are transient. */
export function refusalOf(e: unknown): Refusal {
  if (isKmsError(e)) {
    return {
      reason: REASON_OF[e.code],
      message: `${e.code}: ${e.message}`,
      terminal: e.kind === 'user' || e.kind === 'conflict',
    };
  }
  return { reason: 'EngineError', message: e instanceof Error ? e.message : String(e), terminal: false };
}

/** Reasons that only mean "waiting for something that is on its way": shown in the condition, no Warning Event. */
export const WAITING_REASONS: ReadonlySet<string> = new Set([
  'KeyNotReady',
  'TargetKeyNotReady',
  'Provisioning',
]);
