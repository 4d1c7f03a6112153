/**
 * The one place that decides which feature modules load. kubekms runs as a static pod beside kube-apiserver, and
 * most of it is off there: the Kubernetes client (operator, shared state, AWS cluster mode, the doctor's API
 * checks), the AWS model and server (--aws-listen) and the pure-JS crypto provider are each imported here, on first use,
 * only when the feature is on. Nothing else imports them statically from the CLI's start-up path (a test checks
 * what plugin-only serve loads).
 */
import type { CryptoProviderName } from '../crypto/provider.ts';
import type { CryptoProvider } from '../engine/ports.ts';

export const features = {
  /** --crypto-provider: node:crypto (the default), or the pure-JS noble primitives only when chosen. */
  crypto: async (name: CryptoProviderName): Promise<CryptoProvider> =>
    name === 'noble'
      ? (await import('../crypto/noble-provider.ts')).nobleCrypto
      : (await import('../crypto/node-provider.ts')).nodeCrypto,
  /** --shared-state (HA): key state shared through the Kubernetes API. */
  sharedState: async () => ({
    ...(await import('../ha/shared-state.ts')),
    ...(await import('../ha/bootstrap.ts')),
    ...(await import('../ha/root-rotation.ts')),
    ...(await import('../api/state-records.ts')),
    ...(await import('../ha/ephemeral-store.ts')),
  }),
  /** --operator: the controllers of KmsKey, KmsAlias and KmsGrant. */
  operator: () => import('../operator/operator.ts'),
  /** --aws-listen: the AWS-KMS-compatible API. */
  aws: async () => ({
    ...(await import('../aws/start.ts')),
    ...(await import('../aws/credentials.ts')),
  }),
  /** --aws-sts: TokenReviews of ServiceAccount tokens. */
  tokenReview: () => import('../kube/token-review.ts'),
  /** --aws-listen with --operator: management operations through the custom resources. */
  awsCluster: async () => ({
    ...(await import('../aws/cluster/kube.ts')),
    ...(await import('../aws/cluster/operations.ts')),
  }),
};
