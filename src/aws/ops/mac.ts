/** GenerateMac, VerifyMac. */
import { generateMac, verifyMac } from '../../engine/ops-mac.ts';
import { finishDryRun, type Handler } from './types.ts';

const macInput = (input: Readonly<Record<string, unknown>>) => ({
  keyId: input.KeyId,
  message: input.Message,
  macAlgorithm: input.MacAlgorithm,
});

export const GenerateMac: Handler = ({ core, ctx, input }) => {
  const out = generateMac(core, ctx, macInput(input));
  finishDryRun(input);
  return { keyArn: out.keyId, body: { Mac: out.mac, MacAlgorithm: out.macAlgorithm, KeyId: out.keyId } };
};

export const VerifyMac: Handler = ({ core, ctx, input }) => {
  const out = verifyMac(core, ctx, { ...macInput(input), mac: input.Mac });
  finishDryRun(input);
  return {
    keyArn: out.keyId,
    body: { KeyId: out.keyId, MacValid: out.macValid, MacAlgorithm: out.macAlgorithm },
  };
};
