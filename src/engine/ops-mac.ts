/** HMAC keys: GenerateMac with the primary version, VerifyMac against every version (rotation-safe). */
import type { EngineCore, LoadedKey, RequestContext } from './core.ts';
import { KmsError } from './errors.ts';
import { constantTimeEqual } from './secret.ts';
import {
  HASH_OF_MAC,
  isHmacSpec,
  LIMITS,
  MAC_ALGORITHM_BY_SPEC,
  MAC_ALGORITHMS,
  type MacAlgorithm,
} from './specs.ts';
import { requireBytes, requireEnum } from './validate.ts';

export interface MacInput {
  readonly keyId: unknown;
  readonly message: unknown;
  readonly macAlgorithm: unknown;
}

function check(
  core: EngineCore,
  ctx: RequestContext,
  input: MacInput,
  action: 'kms:GenerateMac' | 'kms:VerifyMac',
) {
  const key = core.resolve(input.keyId);
  const message = requireBytes(input.message, 'Message', 1, LIMITS.macMessageMax);
  const algorithm = requireEnum(input.macAlgorithm, 'MacAlgorithm', MAC_ALGORITHMS);
  core.authorize(ctx, key.record, action);
  core.requireUsable(key.record, 'GENERATE_VERIFY_MAC');
  const spec = key.record.keySpec;
  if (!isHmacSpec(spec) || MAC_ALGORITHM_BY_SPEC[spec] !== algorithm) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `MacAlgorithm: ${algorithm} is not valid for ${spec}`,
      'MacAlgorithm',
    );
  }
  return { key, message, algorithm };
}

export function generateMac(
  core: EngineCore,
  ctx: RequestContext,
  input: MacInput,
): { keyId: string; mac: Uint8Array; macAlgorithm: MacAlgorithm } {
  const { key, message, algorithm } = check(core, ctx, input, 'kms:GenerateMac');
  const r = key.record;
  const mac = core.crypto.hmac(HASH_OF_MAC[algorithm], key.material.get(r.primaryVersion)!, message);
  return { keyId: core.arnOf(r.keyId), mac, macAlgorithm: algorithm };
}

function macMatchesAnyVersion(
  core: EngineCore,
  key: LoadedKey,
  algorithm: MacAlgorithm,
  message: Uint8Array,
  mac: Uint8Array,
): boolean {
  let ok = false;
  for (const material of key.material.values()) {
    // No early exit: the time taken does not say which version matched.
    ok = constantTimeEqual(core.crypto.hmac(HASH_OF_MAC[algorithm], material, message), mac) || ok;
  }
  return ok;
}

/** VerifyMac. A MAC that does not verify is KMSInvalidMacException, never `false`. */
export function verifyMac(
  core: EngineCore,
  ctx: RequestContext,
  input: MacInput & { readonly mac: unknown },
): { keyId: string; macValid: true; macAlgorithm: MacAlgorithm } {
  const { key, message, algorithm } = check(core, ctx, input, 'kms:VerifyMac');
  const mac = requireBytes(input.mac, 'Mac', 1, 6144);
  if (!macMatchesAnyVersion(core, key, algorithm, message, mac)) {
    throw new KmsError('KMSInvalidMacException', 'the MAC is not valid');
  }
  return { keyId: core.arnOf(key.record.keyId), macValid: true, macAlgorithm: algorithm };
}
