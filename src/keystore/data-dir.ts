/**
 * What every local keystore does around its own format: create the data dir (0700) and hold its lock
 * (keystore-lock.ts) while open, and run commits one after another.
 */
import { KeyStoreError } from './errors.ts';
import { errorCode, type KeyStoreFs } from './keystore-fs.ts';
import { KeyStoreLock } from './keystore-lock.ts';

/** Creates `dataDir`, takes its lock and runs `body` under it; releases the lock when `body` fails. */
export async function openLocked<T>(
  fs: KeyStoreFs,
  dataDir: string,
  body: () => Promise<T>,
): Promise<{ lock: KeyStoreLock; value: T }> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw new KeyStoreError(`keystore: cannot create data dir ${dataDir} (${errorCode(e)})`, { cause: e });
  });
  const lock = await KeyStoreLock.acquire(fs, dataDir);
  try {
    return { lock, value: await body() };
  } catch (e) {
    await lock.release();
    throw e;
  }
}

/** Runs tasks one after another; a task that fails does not stop the next. */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** Resolves once every task queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
