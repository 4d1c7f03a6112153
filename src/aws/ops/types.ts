/** What every AWS operation handler gets and returns. Handlers are thin: read members, call the engine, shape output. */
import type { EngineCore, RequestContext } from '../../engine/core.ts';
import { KmsError } from '../../engine/errors.ts';
import { keyMaterialId } from '../../engine/metadata.ts';
import type { Input } from '../decode-input.ts';
import { AwsError } from '../errors.ts';

export interface OpContext {
  readonly core: EngineCore;
  readonly ctx: RequestContext;
  readonly input: Input;
}

/** A response body: Uint8Array and SecretBytes members are sent as base64 (SecretBytes wiped right after). */
export type Body = Record<string, unknown>;

export interface OpResult {
  readonly body?: Body;
  /** The key the request acted on, for the audit line. */
  readonly keyArn?: string;
}

export type Handler = (c: OpContext) => OpResult | Promise<OpResult>;

/** Epoch ms → epoch seconds, as AWS JSON 1.1 timestamps are. */
export const seconds = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : ms / 1000;

/** The key UUID in a key ARN the engine returned. */
export const keyIdOfArn = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

/** Answers DryRunOperationException once every check has passed and the caller asked for a dry run. */
export function finishDryRun(input: Input): void {
  if (input.DryRun === true) {
    throw new AwsError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
    );
  }
}

/** Nitro Enclaves attestation (Recipient) is not available in a cluster. */
export function refuseRecipient(input: Input): void {
  if (input.Recipient !== undefined) {
    throw new KmsError(
      'UnsupportedOperationException',
      'Recipient (Nitro Enclaves attestation) is not supported by kubekms',
    );
  }
}

export function unsupported(what: string): KmsError {
  return new KmsError('UnsupportedOperationException', `${what} is not supported by kubekms`);
}

const materialIds = new Map<string, string>();

/**
 * KeyMaterialId of a key version named by its key ARN. The id of a (key, version) never changes, so it is
 * computed once (a SHA-256 per data-key or Decrypt response otherwise); the cache is bounded.
 */
export function cachedMaterialId(core: EngineCore, arn: string, version: number): string {
  const k = `${arn}\0${version}`;
  let id = materialIds.get(k);
  if (id === undefined) {
    if (materialIds.size >= 10_000) materialIds.clear();
    id = keyMaterialId(core, keyIdOfArn(arn), version);
    materialIds.set(k, id);
  }
  return id;
}
