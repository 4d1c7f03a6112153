/**
 * The Secrets an e2e suite wrote, so that it can check that every one reads back with its value through any API
 * server: once, or in a loop while something happens (a rotation, a restart, an instance killed).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Apiserver } from '../controlplane/harness.ts';
import { applySecrets, newSecret, readAllSecrets, type SecretSpec } from './secrets.ts';

export function secretBook(namespace: string) {
  const written: SecretSpec[] = [];

  /** Writes `n` Secrets through `api` and remembers them. */
  async function write(api: Apiserver, prefix: string, n: number): Promise<SecretSpec[]> {
    const s = Array.from({ length: n }, (_, i) =>
      newSecret(namespace, `${prefix}-${i}-${randomBytes(3).toString('hex')}`),
    );
    await applySecrets(api, s);
    written.push(...s);
    return s;
  }

  /** Every Secret written so far reads back with its value through `api`. */
  async function expectAllReadable(api: Apiserver): Promise<void> {
    const got = await readAllSecrets(api, namespace);
    const wrong = written.filter((s) => got.get(s.name) !== s.value).map((s) => s.name);
    expect(wrong, `unreadable or wrong through ${api.url}`).toEqual([]);
  }

  /**
   * Reads every Secret through each API server in `targets()` in a loop until stopped; counts reads and failures.
   * A node whose kubekms was killed is taken out of `targets` first, as a load balancer does on /readyz.
   */
  function readLoop(targets: () => Apiserver[], pauseMs = 200) {
    let stop = false;
    const stats = { reads: 0, failures: [] as string[] };
    const done = (async () => {
      while (!stop) {
        for (const api of targets()) {
          const want = [...written];
          try {
            const got = await readAllSecrets(api, namespace);
            for (const s of want)
              if (got.get(s.name) !== s.value) stats.failures.push(`${api.url} ${s.name}`);
          } catch (e) {
            stats.failures.push(`${api.url}: ${(e as Error).message.split('\n')[0]}`);
          }
          stats.reads++;
        }
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
    return {
      stats,
      async stop() {
        stop = true;
        await done;
        return stats;
      },
    };
  }

  return { written, write, expectAllReadable, readLoop };
}
