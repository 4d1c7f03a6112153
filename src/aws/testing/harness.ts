/**
 * Test harness: an engine in memory behind a real AWS API listener on 127.0.0.1:0, with three access keys
 * (an administrator and two ordinary principals), @aws-sdk/client-kms clients for each, and every response
 * body checked against the AWS model.
 */
import { PassThrough } from 'node:stream';
import { KMSClient } from '@aws-sdk/client-kms';
import { nodeCrypto } from '../../crypto/node-provider.ts';
import { EngineCore } from '../../engine/core.ts';
import type { ArnConfig } from '../../engine/identifiers.ts';
import type { RootKey } from '../../engine/ports.ts';
import { MemoryKeyStore, TestRootKey } from '../../engine/testing.ts';
import { createLogger } from '../../observability/logger.ts';
import { createMetrics, type Metrics } from '../../observability/metrics.ts';
import { type Credential, CredentialStore } from '../credentials.ts';
import type { KeyLimits } from '../key-limits.ts';
import { validateResponse } from '../model-validate.ts';
import type { Handler } from '../ops/types.ts';
import { type AwsServer, startAwsServer, type WebIdentityOptions } from '../server.ts';
import { signHeaders } from './sign-headers.ts';

export const ARN: ArnConfig = { partition: 'aws', region: 'eu-central-1', account: '111122223333' };

export const CREDENTIALS = {
  admin: {
    accessKeyId: 'AKIAADMINADMINADMIN1',
    secretAccessKey: 'admin-secret-admin-secret-admin-secret',
    caller: { kind: 'principal', name: 'system:serviceaccount:kms:admin', groups: [], admin: true },
  },
  alice: {
    accessKeyId: 'AKIAALICEALICEALICE1',
    secretAccessKey: 'alice-secret-alice-secret-alice-secret',
    caller: { kind: 'principal', name: 'system:serviceaccount:apps:alice', groups: ['team-a'], admin: false },
  },
  bob: {
    accessKeyId: 'AKIABOBBOBBOBBOBBOB1',
    secretAccessKey: 'bob-secret-bob-secret-bob-secret-bob',
    caller: { kind: 'principal', name: 'system:serviceaccount:apps:bob', groups: [], admin: false },
  },
} as const satisfies Record<string, Credential>;

export type Who = keyof typeof CREDENTIALS;

export interface Harness {
  readonly core: EngineCore;
  readonly server: AwsServer;
  readonly metrics: Metrics;
  readonly logs: () => string;
  /** Model violations seen in responses so far. */
  readonly violations: string[];
  /** Operations and statuses seen, for coverage checks. */
  readonly seen: { operation: string; status: number; type?: string }[];
  client(who?: Who, region?: string): KMSClient;
  close(): Promise<void>;
}

export async function startHarness(
  o: {
    now?: () => number;
    replayBudgetPerKey?: number;
    requestTimeoutMs?: number;
    pluginOnlyKeys?: readonly string[];
    operations?: Readonly<Record<string, Handler>>;
    maxConnections?: number;
    keyLimits?: KeyLimits;
    webIdentity?: WebIdentityOptions;
    rootKey?: RootKey;
  } = {},
): Promise<Harness> {
  const core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: o.rootKey ?? new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
    arn: ARN,
  });
  let logText = '';
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => {
    logText += c.toString();
  });
  const metrics = createMetrics({ processMetrics: false });
  const violations: string[] = [];
  const seen: Harness['seen'] = [];
  const server = await startAwsServer({
    core,
    credentials: new CredentialStore(Object.values(CREDENTIALS)),
    listen: { host: '127.0.0.1', port: 0 },
    log: createLogger('info', sink),
    metrics,
    region: ARN.region,
    ...(o.now ? { now: o.now } : {}),
    ...(o.replayBudgetPerKey ? { replayBudgetPerKey: o.replayBudgetPerKey } : {}),
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(o.pluginOnlyKeys ? { pluginOnlyKeys: o.pluginOnlyKeys } : {}),
    ...(o.operations ? { operations: o.operations } : {}),
    ...(o.maxConnections ? { maxConnections: o.maxConnections } : {}),
    ...(o.keyLimits ? { keyLimits: o.keyLimits } : {}),
    ...(o.webIdentity ? { webIdentity: o.webIdentity } : {}),
    onResponse: ({ operation, status, body }) => {
      violations.push(...validateResponse(operation, status, body));
      let type: string | undefined;
      if (status !== 200) type = (JSON.parse(body) as { __type: string }).__type;
      seen.push({ operation, status, ...(type ? { type } : {}) });
    },
  });
  const clients: KMSClient[] = [];
  return {
    core,
    server,
    metrics,
    logs: () => logText,
    violations,
    seen,
    client(who: Who = 'admin', region = ARN.region) {
      const c = CREDENTIALS[who];
      const client = new KMSClient({
        endpoint: server.endpoint,
        region,
        credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
    },
  };
}

/** The AWS error name of a rejected SDK call, or 'OK'. */
export async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return (e as { name?: string }).name ?? String(e);
  }
}

/** Headers of a raw request to `endpoint` signed as `who` (clock `now`, default the real one), as the JS SDK signs. */
export function signedHeaders(
  endpoint: string,
  who: Who,
  target: string,
  body: string,
  now?: number,
): Record<string, string> {
  const c = CREDENTIALS[who];
  return signHeaders({
    host: new URL(endpoint).host,
    target,
    body,
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    region: ARN.region,
    ...(now !== undefined ? { now } : {}),
  });
}
