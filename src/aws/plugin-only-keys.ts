/**
 * The key that wraps kube-apiserver's DEK seeds serves the KMS v2 plugin only (issue 16.2). Through the AWS API,
 * every data operation and CreateGrant naming it is refused for every principal, administrators included,
 * whatever its key policy or grants say: otherwise an administrator could decrypt seeds, encrypt seeds of their
 * choosing, or grant either to anyone. DescribeKey, ListAliases and the other reads still show it.
 *
 * The check runs twice: before the operation, on every key member of the request (KeyId, SourceKeyId,
 * DestinationKeyId), and after it, on the keys the result names, so that a Decrypt or ReEncrypt that named no
 * key but whose ciphertext belongs to such a key is refused too (its plaintext is wiped, never sent).
 */
import type { EngineCore } from '../engine/core.ts';
import { KmsError } from '../engine/errors.ts';
import { SecretBytes } from '../engine/secret.ts';
import type { Input } from './decode-input.ts';
import type { Body, Handler, OpResult } from './ops/types.ts';

/** The operations refused on a plugin-only key: every data operation, and CreateGrant. */
export const PLUGIN_ONLY_REFUSED = [
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'Sign',
  'Verify',
  'GenerateMac',
  'VerifyMac',
  'GetPublicKey',
  'DeriveSharedSecret',
  'CreateGrant',
] as const;

const KEY_MEMBERS = ['KeyId', 'SourceKeyId', 'DestinationKeyId'] as const;

/** The key ids the references name now (an alias may be retargeted; a reference that resolves to nothing is skipped). */
function resolveAll(core: EngineCore, refs: readonly string[]): Set<string> {
  const ids = new Set<string>();
  for (const ref of refs) {
    try {
      ids.add(core.resolve(ref).record.keyId);
    } catch {
      // not (yet) a key of this installation
    }
  }
  return ids;
}

function refused(core: EngineCore, name: string, keyId: string): KmsError {
  return new KmsError(
    'AccessDeniedException',
    `${name}: key ${core.arnOf(keyId)} wraps kube-apiserver's Secrets and serves the KMS v2 plugin only; the AWS API refuses data operations and grants on it for every principal`,
  );
}

function wipeSecrets(body: Body | undefined): void {
  for (const v of Object.values(body ?? {})) if (v instanceof SecretBytes) v.wipe();
}

function checkInput(core: EngineCore, name: string, input: Input, reserved: Set<string>): void {
  for (const m of KEY_MEMBERS) {
    if (typeof input[m] !== 'string') continue;
    const [id] = resolveAll(core, [input[m]]);
    if (id !== undefined && reserved.has(id)) throw refused(core, name, id);
  }
}

function checkResult(core: EngineCore, name: string, result: OpResult, reserved: Set<string>): void {
  const named = [result.keyArn, result.body?.KeyId, result.body?.SourceKeyId];
  for (const id of reserved) {
    const arn = core.arnOf(id);
    if (named.includes(arn)) {
      wipeSecrets(result.body);
      throw refused(core, name, id);
    }
  }
}

function guarded(name: string, handler: Handler, keyRefs: readonly string[]): Handler {
  return async (c) => {
    const reserved = resolveAll(c.core, keyRefs);
    if (reserved.size === 0) return handler(c);
    checkInput(c.core, name, c.input, reserved);
    const result = await handler(c);
    checkResult(c.core, name, result, reserved);
    return result;
  };
}

/** `operations` with the data operations and CreateGrant refusing the keys `keyRefs` name (aliases, ids or ARNs). */
export function withPluginOnlyKeys(
  operations: Readonly<Record<string, Handler>>,
  keyRefs: readonly string[],
): Readonly<Record<string, Handler>> {
  const out: Record<string, Handler> = { ...operations };
  for (const name of PLUGIN_ONLY_REFUSED) {
    const h = Object.hasOwn(operations, name) ? operations[name] : undefined;
    if (h) out[name] = guarded(name, h, keyRefs);
  }
  return out;
}
