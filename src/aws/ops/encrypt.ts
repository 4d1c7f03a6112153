/** Encrypt, Decrypt, ReEncrypt. */
import type { EngineCore, RequestContext } from '../../engine/core.ts';
import { parseEncryptionContext } from '../../engine/encryption-context.ts';
import { validation } from '../../engine/errors.ts';
import { decrypt, encrypt, reEncrypt } from '../../engine/ops-encrypt.ts';
import type { KeyAction } from '../../engine/policy.ts';
import type { Input } from '../decode-input.ts';
import { cachedMaterialId, finishDryRun, type Handler, refuseRecipient } from './types.ts';

/** Material id of a symmetric key version (AWS reports KeyMaterialId only for symmetric encryption keys). */
function materialIdOf(core: EngineCore, arn: string, version: number, algorithm: string): string | undefined {
  return algorithm === 'SYMMETRIC_DEFAULT' ? cachedMaterialId(core, arn, version) : undefined;
}

/**
 * DryRun with DryRunModifiers=[IGNORE_CIPHERTEXT]: only authorization and key state are checked, on the key
 * the request names (KeyId is then required).
 */
function ignoreCiphertextDryRun(
  core: EngineCore,
  ctx: RequestContext,
  input: Input,
  keyField: string,
  ecField: string,
  action: KeyAction,
): void {
  const mods = input.DryRunModifiers as readonly string[] | undefined;
  if (input.DryRun !== true || !mods?.includes('IGNORE_CIPHERTEXT')) return;
  for (const [i, m] of mods.entries()) {
    if (m !== 'IGNORE_CIPHERTEXT') throw validation(`DryRunModifiers[${i}]`, 'must be IGNORE_CIPHERTEXT');
  }
  if (input[keyField] === undefined)
    throw validation(keyField, 'is required with DryRunModifiers IGNORE_CIPHERTEXT');
  const key = core.resolve(input[keyField], keyField);
  core.authorize(ctx, key.record, action, parseEncryptionContext(input[ecField], ecField));
  core.requireUsable(key.record, 'ENCRYPT_DECRYPT');
  finishDryRun(input);
}

export const Encrypt: Handler = ({ core, ctx, input }) => {
  const out = encrypt(core, ctx, {
    keyId: input.KeyId,
    plaintext: input.Plaintext,
    encryptionContext: input.EncryptionContext,
    encryptionAlgorithm: input.EncryptionAlgorithm,
  });
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      CiphertextBlob: out.ciphertextBlob,
      KeyId: out.keyId,
      EncryptionAlgorithm: out.encryptionAlgorithm,
    },
  };
};

export const Decrypt: Handler = ({ core, ctx, input }) => {
  refuseRecipient(input);
  ignoreCiphertextDryRun(core, ctx, input, 'KeyId', 'EncryptionContext', 'kms:Decrypt');
  if (input.CiphertextBlob === undefined) throw validation('CiphertextBlob', 'is required');
  const out = decrypt(core, ctx, {
    ciphertextBlob: input.CiphertextBlob,
    keyId: input.KeyId,
    encryptionContext: input.EncryptionContext,
    encryptionAlgorithm: input.EncryptionAlgorithm,
  });
  if (input.DryRun === true) {
    out.plaintext.wipe();
    finishDryRun(input);
  }
  return {
    keyArn: out.keyId,
    body: {
      KeyId: out.keyId,
      Plaintext: out.plaintext,
      EncryptionAlgorithm: out.encryptionAlgorithm,
      KeyMaterialId: materialIdOf(core, out.keyId, out.keyVersion, out.encryptionAlgorithm),
    },
  };
};

export const ReEncrypt: Handler = ({ core, ctx, input }) => {
  ignoreCiphertextDryRun(core, ctx, input, 'SourceKeyId', 'SourceEncryptionContext', 'kms:ReEncryptFrom');
  if (input.CiphertextBlob === undefined) throw validation('CiphertextBlob', 'is required');
  const out = reEncrypt(core, ctx, {
    ciphertextBlob: input.CiphertextBlob,
    sourceKeyId: input.SourceKeyId,
    sourceEncryptionContext: input.SourceEncryptionContext,
    sourceEncryptionAlgorithm: input.SourceEncryptionAlgorithm,
    destinationKeyId: input.DestinationKeyId,
    destinationEncryptionContext: input.DestinationEncryptionContext,
    destinationEncryptionAlgorithm: input.DestinationEncryptionAlgorithm,
  });
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      CiphertextBlob: out.ciphertextBlob,
      SourceKeyId: out.sourceKeyId,
      KeyId: out.keyId,
      SourceEncryptionAlgorithm: out.sourceEncryptionAlgorithm,
      DestinationEncryptionAlgorithm: out.destinationEncryptionAlgorithm,
      SourceKeyMaterialId: materialIdOf(
        core,
        out.sourceKeyId,
        out.sourceKeyVersion,
        out.sourceEncryptionAlgorithm,
      ),
      DestinationKeyMaterialId: materialIdOf(
        core,
        out.keyId,
        out.keyVersion,
        out.destinationEncryptionAlgorithm,
      ),
    },
  };
};
