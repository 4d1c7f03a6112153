/**
 * One re-encryption pass: for each configured resource, list every object in pages (`limit` + `continue`, one
 * consistent snapshot) and replace each one as read. The API server rewrites an object whose stored key_id is
 * stale, and skips the write otherwise, so the pass is idempotent and a resumed page is simply done again.
 * 409 → read again and retry; 404 → gone meanwhile (skipped); 410 on a continue token (compacted) → list the
 * resource again from the start. Progress is handed to `onPage` after every page: that record is what a
 * restarted or new leader resumes from.
 */

import type { ReencryptionStatus } from '../api/kinds.ts';
import { sleep } from '../kube/backoff.ts';
import { describeError, isConflict, isGone, isNotFound, KubeApiError } from '../kube/errors.ts';
import type { RawObject, ReencryptApi, ServedResource } from './reencrypt-api.ts';
import type { RateLimiter } from './reencrypt-rate.ts';

export type ObjectResult = 'rewritten' | 'skipped' | 'conflict' | 'failed';

export interface PassOptions {
  readonly api: ReencryptApi;
  readonly resources: readonly string[];
  readonly limiter: RateLimiter;
  readonly pageSize?: number;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  /** Persists progress; called after every page. */
  readonly onPage: (s: ReencryptionStatus) => Promise<void>;
  /** Per object (and per retried conflict), for metrics. */
  readonly onObject?: (result: ObjectResult) => void;
  readonly onUnknownResource?: (name: string) => void;
  readonly onFailure?: (o: RawObject, err: string) => void;
  /** Checked between pages: true stops the pass (e.g. the key rotated again). */
  readonly shouldStop?: () => boolean;
  /** Attempts per object for conflicts and transient errors. */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
}

export interface PassResult {
  readonly status: ReencryptionStatus;
  /** True when the pass stopped early (abort or shouldStop); the status is the last persisted one. */
  readonly stopped: boolean;
}

const transient = (e: unknown): boolean =>
  !(e instanceof KubeApiError) || e.code === 429 || e.code >= 500 || e.code === 409;

export async function runPass(start: ReencryptionStatus, o: PassOptions): Promise<PassResult> {
  const pageSize = o.pageSize ?? 100;
  const concurrency = Math.max(1, o.concurrency ?? 8);
  let s = start;
  let idx = s.resource !== undefined ? o.resources.indexOf(s.resource) : 0;
  if (idx < 0) {
    idx = 0;
    s = { ...s, continue: undefined, resource: undefined };
  }
  const stop = () => (o.signal?.aborted ?? false) || (o.shouldStop?.() ?? false);

  for (; idx < o.resources.length; idx++) {
    const name = o.resources[idx] ?? '';
    let cont = s.resource === name ? s.continue : undefined;
    let counted = cont !== undefined; // the snapshot size was added when its first page was read
    const r = await o.api.resolve(name);
    if (!r) {
      const unknown = [...new Set([...(s.unknownResources ?? []), name])];
      s = { ...s, unknownResources: unknown };
      o.onUnknownResource?.(name);
      continue;
    }
    for (;;) {
      if (stop()) return { status: s, stopped: true };
      let page: Awaited<ReturnType<ReencryptApi['list']>>;
      try {
        page = await o.api.list(r, pageSize, cont);
      } catch (e) {
        if (isGone(e) && cont !== undefined) {
          cont = undefined; // the snapshot was compacted: list again; rewritten objects are skipped cheaply
          continue;
        }
        throw e;
      }
      if (!counted) {
        s = { ...s, total: s.total + page.items.length + (page.remainingItemCount ?? 0) };
        counted = true;
      }
      const counts = { done: 0, skipped: 0, failed: 0 };
      let next = 0;
      const worker = async () => {
        while (next < page.items.length) {
          const item = page.items[next++];
          if (!item) continue;
          const res = await rewrite(r, item, o);
          if (res === 'aborted') return;
          counts[res === 'rewritten' ? 'done' : res]++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, page.items.length) }, worker));
      if (o.signal?.aborted) return { status: s, stopped: true };
      const more = page.continue !== undefined && page.continue !== '';
      const nextResource = more ? name : o.resources[idx + 1];
      s = {
        ...s,
        done: s.done + counts.done,
        skipped: s.skipped + counts.skipped,
        failed: s.failed + counts.failed,
        ...(nextResource !== undefined ? { resource: nextResource } : { resource: undefined }),
        continue: more ? page.continue : undefined,
      };
      await o.onPage(s);
      if (!more) break;
      cont = page.continue;
    }
  }
  return { status: s, stopped: false };
}

async function rewrite(
  r: ServedResource,
  item: RawObject,
  o: PassOptions,
): Promise<'rewritten' | 'skipped' | 'failed' | 'aborted'> {
  const attempts = o.attempts ?? 5;
  let obj: RawObject | undefined = item;
  for (let attempt = 1; ; attempt++) {
    await o.limiter.take(o.signal);
    if (o.signal?.aborted) return 'aborted';
    try {
      await o.api.replace(r, obj);
      o.onObject?.('rewritten');
      return 'rewritten';
    } catch (e) {
      if (isNotFound(e)) {
        o.onObject?.('skipped');
        return 'skipped';
      }
      if (attempt >= attempts || !transient(e)) {
        o.onObject?.('failed');
        o.onFailure?.(obj, describeError(e));
        return 'failed';
      }
      if (isConflict(e)) {
        o.onObject?.('conflict');
        // Someone wrote it meanwhile (already under the current key); read it again and replace that.
        try {
          obj = await o.api.get(r, item.metadata.namespace, item.metadata.name);
        } catch {
          obj = item;
        }
        if (!obj) {
          o.onObject?.('skipped');
          return 'skipped';
        }
      } else {
        await sleep((o.retryDelayMs ?? 200) * attempt, o.signal);
      }
    }
  }
}
