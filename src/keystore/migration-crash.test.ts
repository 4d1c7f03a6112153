/**
 * Migrations are crash-safe: the migrating process is SIGKILLed at random instants (from start-up to the end of its
 * open) and after every kill the store opens with the same state. The file keystore migrates a version 1
 * keystore.json to version 2 in place (after a kill: version 1, migrated again, or 2); the database keystore
 * migrates it into keystore.db (after a kill: the JSON alone, migrated again, or keystore.db, with or without the
 * JSON beside it). Set KUBEKMS_CRASH_SEED to replay a run.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { downgradeToV1 } from './testdata/legacy-document.ts';
import { minimalKey } from './testdata/sample-records.ts';
import { FILE_STORE, SQLITE_STORE, type StoreKind } from './testdata/stores.ts';
import { crashSeed, openedState, seededRandom, tempDir } from './testing.ts';

const KILLS = 20;
const OPENER = join(import.meta.dirname, 'testdata', 'migrate-opener.ts');

const dir = tempDir('kubekms-migrate-crash-');
let dataDir: string;
let keyFile: string;
beforeAll(() => {
  dataDir = join(dir(), 'data');
  keyFile = join(dir(), 'root.key');
});

/** Runs the opener; kills it `killAfterMs` after the spawn (undefined: let it finish). Resolves with its run time. */
function runOpener(
  kind: StoreKind,
  killAfterMs: number | undefined,
): Promise<{ ms: number; opened: boolean }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', OPENER, kind.name, dataDir, keyFile],
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
    // 'close', not 'exit': only then has every line the child wrote before the kill been read (an ACK still in
    // the pipe at 'exit' would be missed, and the model would lag the store).
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === null && code !== 0) reject(new Error(`opener exited ${code}: ${err}`));
      else resolve({ ms: performance.now() - start, opened: out.includes('OPENED') });
    });
  });
}

async function openState(kind: StoreKind): Promise<StoreState> {
  return openedState(kind.make({ dataDir, rootKey: await FileRootKey.load(keyFile) }));
}

/** What a kill left: the version of keystore.json, or the database files. */
async function outcome(): Promise<string> {
  // The lock and keystore.json's temp files of a killed process are removed by the next open (tested elsewhere).
  const names = (await readdir(dataDir))
    .filter(
      (n) =>
        n.startsWith('keystore.') && !n.startsWith('keystore.lock') && !n.startsWith('keystore.json.tmp-'),
    )
    .sort();
  if (!names.includes('keystore.json')) return names.join('+');
  const { formatVersion } = JSON.parse(await readFile(join(dataDir, 'keystore.json'), 'utf8'));
  return [`json v${formatVersion}`, ...names.filter((n) => n !== 'keystore.json')].join('+');
}

/** Puts the version 1 keystore.json back, alone. */
async function reset(legacy: string): Promise<void> {
  for (const n of await readdir(dataDir)) if (n.startsWith('keystore.db')) await rm(join(dataDir, n));
  await writeFile(join(dataDir, 'keystore.json'), legacy);
}

describe.each([FILE_STORE, SQLITE_STORE])('the $name keystore', (kind) => {
  it(`a migration killed at ${KILLS} random instants always leaves a store that opens with the same state`, async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(keyFile, { force: true });
    const rootKey = await FileRootKey.create(keyFile);
    const seeding = FILE_STORE.make({ dataDir, rootKey });
    await seeding.open();
    const keys = await Promise.all(Array.from({ length: 400 }, (_, i) => minimalKey(rootKey, `key-${i}`)));
    await seeding.commit({ putKeys: keys });
    await seeding.close();
    const legacy = await downgradeToV1(join(dataDir, 'keystore.json'));
    const expected = await openState(kind); // migrates; the state a migration must keep
    const seed = crashSeed();
    const next = seededRandom(seed);
    await reset(legacy);
    const full = await runOpener(kind, undefined);
    expect(full.opened).toBe(true);
    const outcomes: string[] = [];
    for (let i = 0; i < KILLS; i++) {
      await reset(legacy);
      const killAt = next() * full.ms * 1.2;
      await runOpener(kind, killAt);
      outcomes.push(await outcome());
      expect(await openState(kind), `seed ${seed}, kill ${i} at ${killAt.toFixed(0)} ms`).toEqual(expected);
    }
    const allowed =
      kind === FILE_STORE
        ? /^json v[12]$/
        : /^(json v1(\+keystore\.db\.tmp(-wal|-shm|-journal)?)*|(json v1\+)?keystore\.db(\+keystore\.db-(shm|wal))*)$/;
    for (const o of outcomes) expect(o, `seed ${seed}: ${outcomes.join(', ')}`).toMatch(allowed);
  }, 120_000);
});
