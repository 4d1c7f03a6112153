import { describe, expect, it } from 'vitest';
import { KMS_KEY } from '../../api/kinds.ts';
import { isKmsError } from '../../engine/errors.ts';
import { KubeApiError } from '../../kube/errors.ts';
import type { KubeObject } from '../../kube/objects.ts';
import { type ClusterDeps, clusterDeps } from './deps.ts';
import type { ClusterApi } from './kube.ts';
import { until } from './wait.ts';

/** A ClusterApi whose get answers `object()` and whose other calls fail with `fail`. */
function fakeApi(
  object: () => KubeObject | undefined,
  fail: unknown = new Error('connect ECONNREFUSED'),
): ClusterApi {
  return {
    get: async <T extends KubeObject>() => object() as T | undefined,
    list: () => Promise.reject(fail),
    create: () => Promise.reject(fail),
    patch: () => Promise.reject(fail),
    delete: () => Promise.reject(fail),
  };
}

const deps = (api: ClusterApi, timeoutMs = 200): ClusterDeps =>
  clusterDeps({ api, namespace: 'kubekms', timeoutMs, pollMs: 10 });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return isKmsError(e) ? `${e.code}: ${e.message}` : String(e);
  }
}

const keyWithReady = (status: string, reason: string, observedGeneration: number) => ({
  apiVersion: 'kubekms.io/v1alpha1',
  kind: 'KmsKey',
  metadata: { name: 'k', namespace: 'apps', generation: 2 },
  status: { conditions: [{ type: 'Ready', status, reason, message: 'm', observedGeneration }] },
});

describe('cluster mode: waiting for the operator', () => {
  it('returns as soon as the change shows', async () => {
    let polls = 0;
    const v = await until(deps(fakeApi(() => undefined)), 'x', undefined, () =>
      ++polls >= 3 ? 'done' : undefined,
    );
    expect(v).toBe('done');
    expect(polls).toBe(3);
  });

  it('fails at once when Ready refuses the watched generation, not for a state reason or an older generation', async () => {
    const ref = { type: KMS_KEY, namespace: 'apps', name: 'k', generation: 2 };
    const refused = deps(
      fakeApi(() => keyWithReady('False', 'InvalidSpec', 2)),
      5_000,
    );
    const started = Date.now();
    expect(await codeOf(until(refused, 'KmsKey apps/k', ref, () => undefined))).toMatch(
      /^KMSInternalException: KmsKey apps\/k was refused by the operator: InvalidSpec/,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    for (const [reason, gen] of [
      ['KeyDisabled', 2],
      ['InvalidSpec', 1],
    ] as const) {
      const waiting = deps(fakeApi(() => keyWithReady('False', reason, gen)));
      expect(await codeOf(until(waiting, 'KmsKey apps/k', ref, () => undefined))).toMatch(
        new RegExp(
          `^DependencyTimeoutException: KmsKey apps/k: not reconciled within 0.2s \\(Ready False: ${reason}`,
        ),
      );
    }
  });

  it('maps Kubernetes failures: 422 is the caller’s, 409 AlreadyExists, other answers ours, no answer retryable', async () => {
    const cases: [unknown, RegExp][] = [
      [
        new KubeApiError(422, 'Invalid', 'spec.x: bad'),
        /^ValidationException: create KmsKey in ns: spec.x: bad/,
      ],
      [new KubeApiError(409, 'AlreadyExists', 'exists'), /^AlreadyExistsException: /],
      [new KubeApiError(403, 'Forbidden', 'no'), /^KMSInternalException: .*answered 403 Forbidden/],
      [
        new Error('connect ECONNREFUSED'),
        /^DependencyTimeoutException: .*not reachable \(connect ECONNREFUSED\)/,
      ],
    ];
    for (const [fail, want] of cases) {
      const d = deps(fakeApi(() => undefined, fail));
      expect(await codeOf(d.api.create(KMS_KEY, 'ns', {} as KubeObject))).toMatch(want);
    }
  });
});
