/**
 * The two helpers every @kubernetes/client-node call goes through: `call` turns any failure into KubeApiError,
 * `watchPath` runs a watch with bookmarks and a server-side timeout and reports its end exactly once.
 */
import type { Watch } from '@kubernetes/client-node';
import type { WatchCallback, WatchEventType, WatchHandle } from './client.ts';
import { normalizeKubeError } from './errors.ts';

/** Server-side watch timeout: below the client's 30 s inactivity timeout, so quiet watches end cleanly. */
const WATCH_TIMEOUT_SECONDS = 25;

/** Runs one API call; every failure comes out as KubeApiError (or the network error as is). */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw normalizeKubeError(e);
  }
}

/**
 * Watches `path` from `resourceVersion` with bookmarks and the server-side timeout. `onDone` is called once: with
 * no error for a clean close or the client's timeout, with a normalized error otherwise; never after stop().
 */
export async function watchPath<T>(
  watcher: Watch,
  path: string,
  resourceVersion: string,
  onEvent: WatchCallback<T>,
  onDone: (err?: unknown) => void,
): Promise<WatchHandle> {
  let stopped = false;
  const controller = await watcher.watch(
    path,
    { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
    (type: string, obj: unknown) => {
      if (!stopped) onEvent(type as WatchEventType, obj as T);
    },
    (err: unknown) => {
      if (stopped) return;
      stopped = true;
      const timeout = err instanceof Error && err.name === 'TimeoutError';
      onDone(err && !timeout ? normalizeKubeError(err) : undefined);
    },
  );
  return {
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}
