/**
 * serve's AWS API step: reads the files its section names (TLS pair, access keys) with usage errors naming the
 * flag, builds the cluster-mode operations when the operator is on, the TokenReview client with --aws-sts, and
 * starts the API. Loaded only with --aws-listen.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { AwsServer } from '../aws/server.ts';
import type { AwsApiConfig, AwsApiDeps } from '../aws/start.ts';
import { features } from './features.ts';
import { UsageError } from './flags.ts';
import type { AwsSection } from './serve-config-aws.ts';

export async function startAws(section: AwsSection, deps: AwsApiDeps): Promise<AwsServer> {
  const aws = await features.aws();
  const config: AwsApiConfig = {
    listen: section.listen,
    ...(section.tls ? { tls: await readTls(section.tls) } : {}),
    credentials: section.credentialsFile ? await readCredentials(section.credentialsFile) : [],
    devCredential: section.devCredential,
    requestTimeoutMs: section.requestTimeoutMs,
    maxConnections: section.maxConnections,
    replayBudgetPerKey: section.replayBudgetPerKey,
    keyLimits: section.keyLimits,
    pluginOnlyKeys: section.pluginOnlyKeys,
    ...(section.cluster ? { cluster: await clusterOperations(section.cluster) } : {}),
    ...(section.sts ? { webIdentity: await webIdentity(section.sts) } : {}),
  };
  if (config.credentials.length === 0 && !config.devCredential && !config.webIdentity)
    throw new UsageError(`--aws-credentials: ${section.credentialsFile ?? ''} holds no access keys`);
  return aws.startAwsApi(config, deps);

  async function readCredentials(path: string) {
    try {
      return await aws.loadCredentialsFile(path);
    } catch (e) {
      if (e instanceof aws.CredentialsError) throw new UsageError(`--aws-credentials: ${e.message}`);
      throw e;
    }
  }
}

/** The PEM pair, read and checked to form a usable TLS context. */
async function readTls(files: { certFile: string; keyFile: string }): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    const tls = { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
    createSecureContext(tls);
    return tls;
  } catch (e) {
    throw new UsageError(`--aws-tls-cert/--aws-tls-key: ${(e as Error).message}`);
  }
}

async function clusterOperations(c: NonNullable<AwsSection['cluster']>) {
  const cluster = await features.awsCluster();
  const api = cluster.clusterApiFromKubeconfig(c.kubeconfig);
  return {
    operations: cluster.clusterOperations({ api, namespace: c.namespace, timeoutMs: c.timeoutMs }),
    namespace: c.namespace,
  };
}

/** --aws-sts: tokens are reviewed with the kubeconfig's credentials (loaded at the first review). */
async function webIdentity(sts: NonNullable<AwsSection['sts']>) {
  const { tokenReviewerFromKubeconfig } = await features.tokenReview();
  return {
    audience: sts.audience,
    minDurationSeconds: sts.minDurationSeconds,
    review: tokenReviewerFromKubeconfig(sts.kubeconfig, TOKEN_REVIEW_TIMEOUT_MS),
  };
}

const TOKEN_REVIEW_TIMEOUT_MS = 10_000;
