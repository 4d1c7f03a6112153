/**
 * What every cluster-mode handler works with: the Kubernetes calls (failing in AWS terms), where CreateKey puts
 * its objects, how long to wait for the operator, and the standalone handlers it falls back to for keys, aliases
 * and grants that no custom resource owns.
 */
import type { EngineCore } from '../../engine/core.ts';
import type { KeyRecord } from '../../engine/records.ts';
import { OPERATIONS } from '../operations.ts';
import type { Handler, OpContext, OpResult } from '../ops/types.ts';
import { type Preflight, preflight } from './dry-run.ts';
import type { ClusterApi } from './kube.ts';
import { awsTermsApi } from './kube-failures.ts';

export interface ClusterOptions {
  readonly api: ClusterApi;
  /** Where CreateKey creates KmsKey objects. */
  readonly namespace: string;
  /** How long a request waits for the operator to reconcile its object. */
  readonly timeoutMs: number;
  readonly pollMs?: number;
}

export interface ClusterDeps {
  readonly api: ClusterApi;
  readonly namespace: string;
  readonly timeoutMs: number;
  readonly pollMs: number;
}

export function clusterDeps(o: ClusterOptions): ClusterDeps {
  return { api: awsTermsApi(o.api), namespace: o.namespace, timeoutMs: o.timeoutMs, pollMs: o.pollMs ?? 100 };
}

/** The standalone (engine) handler of an operation. */
export const standalone = (name: string): Handler => OPERATIONS[name]!;

/** Runs the standalone operation against a dry-run view of the engine: its refusal, answer or planned change. */
export const preflightOf = (name: string, c: OpContext): Promise<Preflight<OpResult>> =>
  preflight(c.core, (core) => standalone(name)({ ...c, core }));

/** The engine's record of a key, when it holds the key. */
export const recordOf = (core: EngineCore, keyId: string): KeyRecord | undefined => core.findKey(keyId);
