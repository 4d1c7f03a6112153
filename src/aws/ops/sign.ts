/** Sign, Verify, GetPublicKey, DeriveSharedSecret. */
import { deriveSharedSecret, getPublicKey, sign, verify } from '../../engine/ops-sign.ts';
import { legacySpec } from './key-metadata.ts';
import { finishDryRun, type Handler, refuseRecipient } from './types.ts';

const signInput = (input: Readonly<Record<string, unknown>>) => ({
  keyId: input.KeyId,
  message: input.Message,
  messageType: input.MessageType,
  signingAlgorithm: input.SigningAlgorithm,
});

export const Sign: Handler = ({ core, ctx, input }) => {
  const out = sign(core, ctx, signInput(input));
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: { KeyId: out.keyId, Signature: out.signature, SigningAlgorithm: out.signingAlgorithm },
  };
};

export const Verify: Handler = ({ core, ctx, input }) => {
  const out = verify(core, ctx, { ...signInput(input), signature: input.Signature });
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: { KeyId: out.keyId, SignatureValid: out.signatureValid, SigningAlgorithm: out.signingAlgorithm },
  };
};

export const GetPublicKey: Handler = ({ core, ctx, input }) => {
  const out = getPublicKey(core, ctx, input.KeyId);
  return {
    keyArn: out.keyId,
    body: {
      KeyId: out.keyId,
      PublicKey: out.publicKey,
      CustomerMasterKeySpec: legacySpec(out.keySpec),
      KeySpec: out.keySpec,
      KeyUsage: out.keyUsage,
      EncryptionAlgorithms: out.encryptionAlgorithms,
      SigningAlgorithms: out.signingAlgorithms,
      KeyAgreementAlgorithms: out.keyAgreementAlgorithms,
    },
  };
};

export const DeriveSharedSecret: Handler = ({ core, ctx, input }) => {
  refuseRecipient(input);
  const out = deriveSharedSecret(core, ctx, {
    keyId: input.KeyId,
    keyAgreementAlgorithm: input.KeyAgreementAlgorithm,
    publicKey: input.PublicKey,
  });
  if (input.DryRun === true) out.sharedSecret.wipe();
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: {
      KeyId: out.keyId,
      SharedSecret: out.sharedSecret,
      KeyAgreementAlgorithm: out.keyAgreementAlgorithm,
      KeyOrigin: 'AWS_KMS',
    },
  };
};
