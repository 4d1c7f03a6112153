/**
 * Invoking an operation: the caller and its grant tokens become the engine's request context, the handler runs,
 * and a failure names the key the request was about (for the audit line) when that key exists.
 */
import type { EngineCore, RequestContext } from '../engine/core.ts';
import { isKmsError, KmsError } from '../engine/errors.ts';
import { checkGrantTokens } from '../engine/validate.ts';
import type { Credential } from './credentials.ts';
import type { Input } from './decode-input.ts';
import { MODEL } from './model/model.ts';
import type { Handler, OpResult } from './ops/types.ts';
import type { RequestRecord } from './request-record.ts';

/** Operations whose model lists InvalidGrantTokenException (computed once, not per request). */
const TOKEN_ERROR_MODELLED: ReadonlySet<string> = new Set(
  Object.entries(MODEL.operations)
    .filter(([, m]) => m.errors?.some((e) => e.shape === 'InvalidGrantTokenException'))
    .map(([n]) => n),
);

export interface Invocation {
  readonly core: EngineCore;
  readonly name: string;
  readonly handler: Handler;
  readonly credential: Credential;
  readonly input: Input;
}

export async function invoke(i: Invocation, record: RequestRecord): Promise<OpResult> {
  try {
    const grantTokens = checkGrantTokens(i.input.GrantTokens);
    const ctx: RequestContext = grantTokens.length
      ? { caller: i.credential.caller, grantTokens }
      : { caller: i.credential.caller };
    return await i.handler({ core: i.core, ctx, input: i.input });
  } catch (e) {
    record.keyArn ??= bestEffortArn(i.core, i.input);
    // DescribeKey takes GrantTokens but its model lists no InvalidGrantTokenException: a ValidationException there.
    if (isKmsError(e) && e.code === 'InvalidGrantTokenException' && !TOKEN_ERROR_MODELLED.has(i.name)) {
      throw new KmsError('ValidationException', e.message, e.field);
    }
    throw e;
  }
}

/** The key a failed request named, when it names one that exists (for the audit line only). */
function bestEffortArn(core: EngineCore, input: Input): string | undefined {
  for (const m of ['KeyId', 'TargetKeyId', 'DestinationKeyId', 'SourceKeyId']) {
    if (typeof input[m] !== 'string') continue;
    try {
      return core.arnOf(core.resolve(input[m]).record.keyId);
    } catch {
      // not a key of this installation
    }
  }
  return undefined;
}
