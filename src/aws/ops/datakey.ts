/** GenerateDataKey[WithoutPlaintext], GenerateDataKeyPair[WithoutPlaintext], GenerateRandom. */
import {
  generateDataKey,
  generateDataKeyPair,
  generateDataKeyPairWithoutPlaintext,
  generateDataKeyWithoutPlaintext,
  generateRandom,
} from '../../engine/ops-datakey.ts';
import { cachedMaterialId, finishDryRun, type Handler, refuseRecipient, unsupported } from './types.ts';

const dataKeyInput = (input: Readonly<Record<string, unknown>>) => ({
  keyId: input.KeyId,
  keySpec: input.KeySpec,
  numberOfBytes: input.NumberOfBytes,
  encryptionContext: input.EncryptionContext,
});

const pairInput = (input: Readonly<Record<string, unknown>>) => ({
  keyId: input.KeyId,
  keyPairSpec: input.KeyPairSpec,
  encryptionContext: input.EncryptionContext,
});

export const GenerateDataKey: Handler = ({ core, ctx, input }) => {
  refuseRecipient(input);
  const out = generateDataKey(core, ctx, dataKeyInput(input));
  if (input.DryRun === true) out.plaintext.wipe();
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      CiphertextBlob: out.ciphertextBlob,
      Plaintext: out.plaintext,
      KeyId: out.keyId,
      KeyMaterialId: cachedMaterialId(core, out.keyId, out.keyVersion),
    },
  };
};

export const GenerateDataKeyWithoutPlaintext: Handler = ({ core, ctx, input }) => {
  const out = generateDataKeyWithoutPlaintext(core, ctx, dataKeyInput(input));
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      CiphertextBlob: out.ciphertextBlob,
      KeyId: out.keyId,
      KeyMaterialId: cachedMaterialId(core, out.keyId, out.keyVersion),
    },
  };
};

export const GenerateDataKeyPair: Handler = ({ core, ctx, input }) => {
  refuseRecipient(input);
  const out = generateDataKeyPair(core, ctx, pairInput(input));
  if (input.DryRun === true) out.privateKeyPlaintext.wipe();
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      PrivateKeyCiphertextBlob: out.privateKeyCiphertextBlob,
      PrivateKeyPlaintext: out.privateKeyPlaintext,
      PublicKey: out.publicKey,
      KeyId: out.keyId,
      KeyPairSpec: out.keyPairSpec,
      KeyMaterialId: cachedMaterialId(core, out.keyId, out.keyVersion),
    },
  };
};

export const GenerateDataKeyPairWithoutPlaintext: Handler = ({ core, ctx, input }) => {
  const out = generateDataKeyPairWithoutPlaintext(core, ctx, pairInput(input));
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      PrivateKeyCiphertextBlob: out.privateKeyCiphertextBlob,
      PublicKey: out.publicKey,
      KeyId: out.keyId,
      KeyPairSpec: out.keyPairSpec,
      KeyMaterialId: cachedMaterialId(core, out.keyId, out.keyVersion),
    },
  };
};

/** GenerateRandom needs no key: any authenticated caller may use it. NumberOfBytes is required here. */
export const GenerateRandom: Handler = ({ core, input }) => {
  refuseRecipient(input);
  if (input.CustomKeyStoreId !== undefined) throw unsupported('CustomKeyStoreId (custom key stores)');
  return { body: { Plaintext: generateRandom(core, input.NumberOfBytes) } };
};
