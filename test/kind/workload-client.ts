/**
 * The workload of the kind suite's web identity test, bundled (rolldown) into a ConfigMap and run with `node` in
 * the kubekms image by a pod with a projected ServiceAccount token. The unmodified AWS SDK for JavaScript v3 gets
 * everything from the environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS,
 * AWS_ENDPOINT_URL_KMS, AWS_REGION; the CA through NODE_EXTRA_CA_CERTS). It prints one `RESULT …` line per step.
 *   MODE=use:     Encrypt and Decrypt with KEY_ID through the SDK's default credential chain.
 *   MODE=expire:  the web identity provider with a 2-second session, one Encrypt, then (after 3 s) another one.
 *   MODE=create:  CreateKey with the key policy POLICY, as the access key in AWS_ACCESS_KEY_ID (the administrator).
 */

import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { fromTokenFile } from '@aws-sdk/credential-provider-web-identity';

const keyId = process.env.KEY_ID ?? '';

async function step(name: string, f: () => Promise<string>): Promise<void> {
  try {
    console.log(`RESULT ${name} OK ${await f()}`);
  } catch (e) {
    console.log(`RESULT ${name} ${(e as Error).name}: ${(e as Error).message}`);
  }
}

async function use(): Promise<void> {
  const kms = new KMSClient({ maxAttempts: 1 });
  await step('use', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('from a pod') }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    return Buffer.from(dec.Plaintext ?? []).toString();
  });
}

async function expire(): Promise<void> {
  const creds = await fromTokenFile({ durationSeconds: 2 })();
  const { accessKeyId, secretAccessKey, sessionToken } = creds;
  // Static credentials: the SDK does not refresh them, so the second call uses the expired session.
  const kms = new KMSClient({ maxAttempts: 1, credentials: { accessKeyId, secretAccessKey, sessionToken } });
  const encrypt = async () => {
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    return '';
  };
  await step('fresh', encrypt);
  await new Promise((r) => setTimeout(r, 3000));
  await step('expired', encrypt);
}

async function create(): Promise<void> {
  const kms = new KMSClient({ maxAttempts: 1 });
  await step('create', async () => {
    const out = await kms.send(new CreateKeyCommand({ Policy: process.env.POLICY ?? '' }));
    return out.KeyMetadata?.KeyId ?? '';
  });
}

const MODES: Record<string, () => Promise<void>> = { use, expire, create };
await (MODES[process.env.MODE ?? 'use'] ?? use)();
