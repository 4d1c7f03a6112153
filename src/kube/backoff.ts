/** Capped exponential backoff with jitter, for reconnect loops (informers, the operator's start). */
export function backoffDelay(failures: number, baseMs = 500, maxMs = 30_000, random = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(d * (0.8 + 0.4 * random()));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
