/**
 * Crash safety of root-key rotation (root-rotation.ts, docs/adr/0024): a rotation process is killed with SIGKILL
 * at chosen points — during start-up and the read, after the whole store was checked, after every version was
 * re-wrapped, and at many instants after it starts switching (inside the SQLite transaction or the atomic
 * replace) — and after every kill the store must open under exactly one of the two root keys, with every record
 * as before and every key version unwrapping to the same material. Each run rotates from whichever root the
 * store is under to the other, so the runs that finish move it back and forth. KUBEKMS_CRASH_SEED replays a run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { materials, withoutMaterial } from './testdata/rotation-checks.ts';
import { alias, minimalGrant, minimalKey, wrappedVersion } from './testdata/sample-records.ts';
import { FILE_STORE, SQLITE_STORE, type StoreKind } from './testdata/stores.ts';
import { crashSeed, openedState, seededRandom, tempDir } from './testing.ts';

const VICTIM = join(import.meta.dirname, 'testdata', 'rotate-victim.ts');
const PHASES = ['start', 'checked', 'rewrapped', 'switching'] as const;
type KillAt = { readonly after: (typeof PHASES)[number]; readonly ms: number } | undefined;

const dir = tempDir('kubekms-rootrot-crash-');

interface Run {
  readonly phases: string[];
  done: boolean;
  killed: boolean;
  /** ms from `switching` to `switched`, when both were seen. */
  switchMs?: number;
}

function runVictim(dataDir: string, from: string, to: string, kill: KillAt): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', VICTIM, dataDir, from, to],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const run: Run = { phases: [], done: false, killed: false };
    let stderr = '';
    let buffered = '';
    let switchingAt = 0;
    const killIn = (ms: number) =>
      setTimeout(() => {
        run.killed = child.kill('SIGKILL');
      }, ms);
    if (kill?.after === 'start') killIn(kill.ms);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const phase = /^PHASE (\w+)$/.exec(line)?.[1];
        if (phase !== undefined) {
          run.phases.push(phase);
          if (phase === 'switching') switchingAt = performance.now();
          if (phase === 'switched') run.switchMs = performance.now() - switchingAt;
          if (kill !== undefined && phase === kill.after) killIn(kill.ms);
        } else if (line.startsWith('DONE')) run.done = true;
      }
    });
    child.on('error', reject);
    // 'close', not 'exit': only then has every line the child wrote before the kill been read (an ACK still in
    // the pipe at 'exit' would be missed, and the model would lag the store).
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve(run);
      else reject(new Error(`rotate victim exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

async function fill(kind: StoreKind, dataDir: string, rootKey: RootKey, keys: number): Promise<StoreState> {
  const s = kind.make({ dataDir, rootKey });
  await s.open();
  const records = [];
  for (let i = 0; i < keys; i++) {
    const k = await minimalKey(rootKey, `key-${String(i).padStart(4, '0')}`);
    records.push(
      i % 3 === 0 ? { ...k, versions: [...k.versions, await wrappedVersion(rootKey, k.keyId, 2)] } : k,
    );
  }
  await s.commit({
    putKeys: records,
    putAliases: [alias('alias/kubekms/secrets', 'key-0000')],
    putGrants: [minimalGrant('g1', 'key-0001')],
  });
  await s.close();
  return openWith(kind, dataDir, rootKey);
}

const openWith = (kind: StoreKind, dataDir: string, rootKey: RootKey): Promise<StoreState> =>
  openedState(kind.make({ dataDir, rootKey }));

const ok = <T>(value: T) => ({ status: 'fulfilled' as const, value });
const ko = (reason: unknown) => ({ status: 'rejected' as const, reason });

/** The one root the store opens under (fails when it opens under both or neither), and its state. */
async function openUnderOne(kind: StoreKind, dataDir: string, roots: readonly [FileRootKey, FileRootKey]) {
  const tries = [];
  for (const r of roots) tries.push(await openWith(kind, dataDir, r).then(ok, ko));
  const opened = tries.flatMap((t, i) => (t.status === 'fulfilled' ? [{ index: i, state: t.value }] : []));
  for (const t of tries)
    if (t.status === 'rejected')
      expect(String(t.reason)).toMatch(/is sealed under a different root key than/);
  if (opened.length !== 1) throw new Error(`the store opens under ${opened.length} of the two root keys`);
  return opened[0]!;
}

function plan(rnd: () => number, switchMs: number): KillAt {
  const p = rnd();
  if (p < 0.1) return undefined;
  if (p < 0.25) return { after: 'start', ms: Math.floor(rnd() * 400) };
  if (p < 0.35) return { after: 'checked', ms: Math.floor(rnd() * 5) };
  if (p < 0.45) return { after: 'rewrapped', ms: Math.floor(rnd() * 3) };
  return { after: 'switching', ms: Math.floor(rnd() * switchMs * 1.3) };
}

describe.each([
  { kind: SQLITE_STORE, kills: 110, keys: 300 },
  { kind: FILE_STORE, kills: 30, keys: 150 },
])('root rotation of the $kind.name keystore killed at $kills points', ({ kind, kills, keys }) => {
  it('opens under exactly one of the two roots after every kill, every key version intact', async () => {
    const seed = crashSeed();
    const rnd = seededRandom(seed);
    const base = await mkdtemp(join(dir(), `${kind.name}-`));
    const dataDir = join(base, 'data');
    const files = [join(base, 'a.key'), join(base, 'b.key')] as const;
    const roots = [await FileRootKey.create(files[0]), await FileRootKey.create(files[1])] as const;
    const original = await fill(kind, dataDir, roots[0], keys);
    const material = await materials(original, roots[0]);
    const tally = { killed: 0, completed: 0, old: 0, new: 0, killedSwitching: { old: 0, new: 0 } };
    // One run without a kill measures how long the switch takes here (kills are spread over 1.3× that).
    let switchMs = 50;
    let current = 0;
    for (let i = 0; tally.killed < kills; i++) {
      expect(i, `seed ${seed}: too many runs`).toBeLessThan(kills * 3);
      const kill = i === 0 ? undefined : plan(rnd, switchMs);
      const run = await runVictim(dataDir, files[current]!, files[1 - current]!, kill);
      if (run.switchMs !== undefined) switchMs = Math.max(20, run.switchMs);
      const { index, state } = await openUnderOne(kind, dataDir, roots).catch((e: unknown) => {
        throw new Error(`seed ${seed}, run ${i} (kill ${JSON.stringify(kill)}, saw ${run.phases}): ${e}`);
      });
      expect(withoutMaterial(state), `seed ${seed}, run ${i}`).toEqual(withoutMaterial(original));
      expect(await materials(state, roots[index]!), `seed ${seed}, run ${i}`).toEqual(material);
      if (run.done) {
        expect(index, `seed ${seed}: a finished run leaves the new root`).toBe(1 - current);
        tally.completed++;
      } else {
        expect(run.killed, `seed ${seed}: the victim stopped without being killed`).toBe(true);
        tally.killed++;
        if (index === current) tally.old++;
        else tally.new++;
        if (kill?.after === 'switching') tally.killedSwitching[index === current ? 'old' : 'new']++;
      }
      current = index;
    }
    console.log(`${kind.name}: seed ${seed}, switch ${switchMs.toFixed(0)} ms, ${JSON.stringify(tally)}`);
    expect(tally.killed).toBeGreaterThanOrEqual(kills);
  }, 900_000);
});
