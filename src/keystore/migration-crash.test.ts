/**
 * Migration of a version 1 store is crash-safe: the migrating process is SIGKILLed at random instants (from start-up
 * to the end of its open) and after every kill the store opens, as version 1 (migrated again) or version 2, with the
 * same state. Set KUBEKMS_CRASH_SEED to replay a run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { FileKeyStore } from './file-keystore.ts';
import { downgradeToV1 } from './testdata/legacy-document.ts';
import { minimalKey } from './testdata/sample-records.ts';

const KILLS = 20;
const OPENER = join(import.meta.dirname, 'testdata', 'migrate-opener.ts');

let dir: string;
let dataDir: string;
let keyFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-migrate-crash-'));
  dataDir = join(dir, 'data');
  keyFile = join(dir, 'root.key');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the opener; kills it `killAfterMs` after the spawn (undefined: let it finish). Resolves with its run time. */
function runOpener(killAfterMs: number | undefined): Promise<{ ms: number; opened: boolean }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', OPENER, dataDir, keyFile],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === null && code !== 0) reject(new Error(`opener exited ${code}: ${err}`));
      else resolve({ ms: performance.now() - start, opened: out.includes('OPENED') });
    });
  });
}

async function openState(): Promise<StoreState> {
  const s = new FileKeyStore({ dataDir, rootKey: await FileRootKey.load(keyFile) });
  try {
    return await s.open();
  } finally {
    await s.close();
  }
}

it(`a migration killed at ${KILLS} random instants always leaves a store that opens with the same state`, async () => {
  const rootKey = await FileRootKey.create(keyFile);
  const seeding = new FileKeyStore({ dataDir, rootKey });
  await seeding.open();
  const keys = await Promise.all(Array.from({ length: 400 }, (_, i) => minimalKey(rootKey, `key-${i}`)));
  await seeding.commit({ putKeys: keys });
  await seeding.close();
  const legacy = await downgradeToV1(join(dataDir, 'keystore.json'));
  const expected = await openState(); // migrates; the state a migration must keep
  const seed = Number(process.env.KUBEKMS_CRASH_SEED ?? Date.now() % 1_000_000);
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  await writeFile(join(dataDir, 'keystore.json'), legacy);
  const full = await runOpener(undefined);
  expect(full.opened).toBe(true);
  const versions: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    await writeFile(join(dataDir, 'keystore.json'), legacy);
    const killAt = next() * full.ms * 1.2;
    await runOpener(killAt);
    const { formatVersion } = JSON.parse(await readFile(join(dataDir, 'keystore.json'), 'utf8'));
    versions.push(formatVersion);
    expect(await openState(), `seed ${seed}, kill ${i} at ${killAt.toFixed(0)} ms`).toEqual(expected);
  }
  expect(versions.every((v) => v === 1 || v === 2)).toBe(true);
});
