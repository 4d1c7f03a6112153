/**
 * Crash safety of the online root-key rotation (serve-root-rotation.ts, ADR 0024): a real `kubekms serve` process
 * is asked over its admin socket to move its keystore to the other root key and is killed with SIGKILL at a random
 * instant of that rotation (spread over its measured duration). After every kill the store must open under
 * exactly one of the two root keys with every record and every version's material unchanged, and under the new one
 * whenever serve had answered that it rotated. The runs that finish move the store back and forth.
 * KUBEKMS_CRASH_SEED replays a run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import { materials, withoutMaterial } from '../keystore/testdata/rotation-checks.ts';
import { alias, minimalKey } from '../keystore/testdata/sample-records.ts';
import { crashSeed, openedState, seededRandom, tempDir } from '../keystore/testing.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { callAdmin } from './admin-client.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const KILLS = 20;

const dir = tempDir('kubekms-online-crash-');

/** The state the store opens with under `rootKey`, or why it does not open. */
const openWith = (dataDir: string, rootKey: RootKey): Promise<StoreState | string> =>
  openedState(new SqliteKeyStore({ dataDir, rootKey })).catch((e: unknown) => String(e));

/** Starts serve on `keyFile` and resolves once its admin socket serves. */
async function startServe(dataDir: string, keyFile: string): Promise<ChildProcess> {
  const args = [
    'serve',
    '--data-dir',
    dataDir,
    '--root-key-file',
    keyFile,
    '--kms-socket',
    '',
    '--health-listen',
    '',
  ];
  const p = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const seen = (c: Buffer) => {
      log += String(c);
      if (log.includes('admin socket serving')) resolve();
    };
    p.stdout?.on('data', seen);
    p.stderr?.on('data', seen);
    p.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${log}`)));
  });
  return p;
}

function killed(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve();
    else {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    }
  });
}

it('a serve killed during an online root rotation leaves the store under exactly one root, nothing lost', async () => {
  const seed = crashSeed();
  const rnd = seededRandom(seed);
  const dataDir = join(dir(), 'data');
  const files = [join(dir(), 'a.key'), join(dir(), 'b.key')] as const;
  const roots = [await FileRootKey.create(files[0]), await FileRootKey.create(files[1])] as const;
  const s = new SqliteKeyStore({ dataDir, rootKey: roots[0] });
  await s.open();
  const keys = [];
  for (let i = 0; i < 200; i++) keys.push(await minimalKey(roots[0], `key-${String(i).padStart(3, '0')}`));
  await s.commit({ putKeys: keys, putAliases: [alias('alias/kubekms/secrets', 'key-000')] });
  await s.close();
  const original = await openWith(dataDir, roots[0]);
  if (typeof original === 'string') throw new Error(original);
  const material = await materials(original, roots[0]);
  const tally = { killed: 0, answered: 0, old: 0, new: 0 };
  let rotateMs = 200;
  let current = 0;
  for (let i = 0; tally.killed < KILLS; i++) {
    expect(i, `seed ${seed}: too many runs`).toBeLessThan(KILLS * 3);
    const serve = await startServe(dataDir, files[current]!);
    const killAfter = i === 0 ? undefined : Math.floor(rnd() * rotateMs);
    const started = performance.now();
    const request = callAdmin<{ ok: boolean }>(dataDir, {
      op: 'rotateRootKey',
      to: { provider: 'file', rootKeyFile: files[1 - current] },
    }).then(
      (a) => a?.ok === true,
      () => false,
    );
    if (killAfter !== undefined) setTimeout(() => void killed(serve), killAfter);
    const answered = await request;
    if (killAfter === undefined) rotateMs = Math.max(20, performance.now() - started);
    await killed(serve);
    const opened = [];
    for (const [index, root] of roots.entries()) {
      const state = await openWith(dataDir, root);
      if (typeof state === 'string')
        expect(state, `seed ${seed}, run ${i}`).toMatch(/sealed under a different root key/);
      else opened.push({ index, state });
    }
    expect(opened.length, `seed ${seed}, run ${i}: roots the store opens under`).toBe(1);
    const { index, state } = opened[0]!;
    expect(withoutMaterial(state), `seed ${seed}, run ${i}`).toEqual(withoutMaterial(original));
    expect(await materials(state, roots[index]!), `seed ${seed}, run ${i}`).toEqual(material);
    if (answered) {
      expect(index, `seed ${seed}, run ${i}: serve answered, so the new root`).toBe(1 - current);
      tally.answered++;
    }
    if (killAfter !== undefined && !answered) {
      tally.killed++;
      tally[index === current ? 'old' : 'new']++;
    }
    current = index;
  }
  console.log(
    `online root rotation kills: seed ${seed}, rotation ${rotateMs.toFixed(0)} ms, ${JSON.stringify(tally)}`,
  );
  expect(tally.killed).toBeGreaterThanOrEqual(KILLS);
}, 900_000);
