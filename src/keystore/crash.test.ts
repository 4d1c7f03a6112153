/**
 * Invariant 7 (crash safety), for each local keystore: a writer process that creates, rotates and deletes keys is
 * killed with SIGKILL at random instants (during start-up and open, between and inside commits) and restarted.
 * After every kill the store must open and hold exactly the acknowledged operations, plus at most the one in
 * flight when the kill came; its generation counts the commits applied. The database keystore is killed at 200
 * points, the file keystore (kept for migration) at 15. Set KUBEKMS_CRASH_SEED to replay a run.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyMaterialAad, type StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import type { CrashOp } from './testdata/crash-writer.ts';
import { FILE_STORE, SQLITE_STORE, type StoreKind } from './testdata/stores.ts';
import { crashSeed, seededRandom, tempDir } from './testing.ts';

const WRITER = join(import.meta.dirname, 'testdata', 'crash-writer.ts');

const dir = tempDir('kubekms-crash-');

type Kill =
  | { kind: 'startup'; afterMs: number }
  | { kind: 'acks'; after: number; extraMs: number }
  | { kind: 'none' };

interface Run {
  /** Operations in the order the writer started them; all but possibly the last were acknowledged. */
  ops: CrashOp[];
  acks: number;
  done: boolean;
  killed: boolean;
}

function runWriter(
  kind: StoreKind,
  dataDir: string,
  rootKeyFile: string,
  total: number,
  kill: Kill,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', WRITER, kind.name, dataDir, rootKeyFile, `${total}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const run: Run = { ops: [], acks: 0, done: false, killed: false };
    let stderr = '';
    let buffered = '';
    const killNow = () => {
      if (!run.killed) run.killed = child.kill('SIGKILL'); // once: a second kill of a dead child returns false
    };
    if (kill.kind === 'startup') setTimeout(killNow, kill.afterMs);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('OP ')) {
          run.ops.push(JSON.parse(line.slice(3)) as CrashOp);
          // A start-up kill aims at start-up and open: on a quick machine that has opened the store before the
          // timer fires, it lands in the first commit instead, so that no run eats the operation budget.
          if (kill.kind === 'startup' && run.ops.length === 1) killNow();
          // An acknowledgement kill aims into the commit that follows `after` acknowledged ones (a quick commit
          // may still finish first, so some kills land between commits).
          if (kill.kind === 'acks' && run.ops.length === kill.after + 1) {
            if (kill.extraMs === 0) killNow();
            else setTimeout(killNow, kill.extraMs);
          }
        } else if (line === 'ACK') run.acks++;
        else if (line === 'DONE') run.done = true;
        nl = buffered.indexOf('\n');
      }
    });
    child.on('error', reject);
    // 'close', not 'exit': only then has every line the child wrote before the kill been read (an ACK still in
    // the pipe at 'exit' would be missed, and the model would lag the store).
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve(run);
      else reject(new Error(`crash writer exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

/** keyId → its versions, as the operations leave them. */
type Model = Map<string, number[]>;
function apply(model: Model, op: CrashOp): Model {
  const next = new Map(model);
  if (op.op === 'delete') next.delete(op.keyId);
  else next.set(op.keyId, [...(next.get(op.keyId) ?? []), op.version]);
  return next;
}
const modelOf = (state: StoreState): Model =>
  new Map(state.keys.map((k) => [k.keyId, k.versions.map((v) => v.version)]));
const same = (a: Model, b: Model): boolean =>
  a.size === b.size && [...a].every(([k, v]) => JSON.stringify(b.get(k)) === JSON.stringify(v));

async function openAndRead(kind: StoreKind, dataDir: string, rootKeyFile: string) {
  const store = kind.make({ dataDir, rootKey: await FileRootKey.load(rootKeyFile) });
  const state = await store.open();
  const generation = store.generation;
  await store.close();
  return { state, generation };
}

describe.each([
  { kind: SQLITE_STORE, kills: 200, timeout: 400_000 },
  { kind: FILE_STORE, kills: 15, timeout: 60_000 },
])('the $kind.name keystore', ({ kind, kills: KILLS, timeout }) => {
  it(
    `loses no acknowledged create, rotate or delete when the writer is SIGKILLed at ${KILLS} random instants`,
    async () => {
      const seed = crashSeed();
      const rnd = seededRandom(seed);
      const dataDir = join(dir(), kind.name);
      const rootKeyFile = join(dir(), `${kind.name}.key`);
      await FileRootKey.create(rootKeyFile);
      // Enough operations for every kill (each run acknowledges a few) on a quick machine; the last run, not
      // killed, finishes the rest.
      const total = KILLS * 8 + 20;
      let model: Model = new Map();
      let applied = 0;
      let kills = 0;
      let inCommit = 0;
      for (;;) {
        const kill: Kill =
          kills >= KILLS
            ? { kind: 'none' }
            : rnd() < 0.2
              ? { kind: 'startup', afterMs: Math.floor(rnd() * 300) }
              : {
                  kind: 'acks',
                  after: 1 + Math.floor(rnd() * 3),
                  extraMs: rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 2),
                };
        const run = await runWriter(kind, dataDir, rootKeyFile, total, kill);
        for (const op of run.ops.slice(0, run.acks)) model = apply(model, op);
        applied += run.acks;
        if (run.done) break;
        expect(run.killed, `seed ${seed}: writer stopped without being killed`).toBe(true);
        kills++;
        // After every kill: the store opens and holds the acknowledged operations, and the one in flight or not.
        const { state, generation } = await openAndRead(kind, dataDir, rootKeyFile).catch((e: unknown) => {
          throw new Error(`seed ${seed}: store unreadable after kill ${kills} (${kill.kind}): ${e}`);
        });
        const found = modelOf(state);
        const pending = run.ops.length > run.acks ? run.ops[run.acks] : undefined;
        if (pending !== undefined) inCommit++;
        if (pending !== undefined && !same(found, model) && same(found, apply(model, pending))) {
          model = found;
          applied++;
        }
        expect(
          same(found, model),
          `seed ${seed}: after kill ${kills} the store holds ${JSON.stringify([...found])}`,
        ).toBe(true);
        expect(generation, `seed ${seed}: one generation per commit`).toBe(applied);
      }
      console.log(`crash ${kind.name}: ${kills} kills, ${inCommit} with a commit in flight, seed ${seed}`);
      expect(kills).toBe(KILLS);
      expect(inCommit, `seed ${seed}: kills while a commit was in flight`).toBeGreaterThanOrEqual(KILLS / 2);
      const { state, generation } = await openAndRead(kind, dataDir, rootKeyFile);
      expect(generation).toBe(total);
      expect(same(modelOf(state), model)).toBe(true);
      const rootKey = await FileRootKey.load(rootKeyFile);
      for (const k of state.keys)
        for (const v of k.versions)
          expect((await rootKey.unwrap(v.wrappedMaterial, keyMaterialAad(k.keyId, v.version))).length).toBe(
            32,
          );
      expect((await readdir(dataDir)).sort()).toEqual([kind.file]);
    },
    timeout,
  );
});
