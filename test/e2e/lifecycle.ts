/** Test lifecycle glue: keep the control plane's logs when a test failed, remove them otherwise. */

import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { cleanup } from '../controlplane/harness.ts';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export function keepLogsOnFailure(): void {
  let failed = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await cleanup({ failed });
  });
}

/** Registers an afterAll that runs every stop pushed to the returned list, last first, ignoring failures. */
export function stopsAfterAll(): (() => Promise<void>)[] {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  });
  return stops;
}
