/**
 * Commit cost of keystore designs against the number of keys (issue 17 item 1), measured in the same run:
 *
 *   node bench/keystore-candidates.ts [sizes=100,10000,100000] [commits=40]
 *
 * - file:    today's FileKeyStore (one JSON document rewritten, fsynced and renamed per commit; sizes ≤ 10 000,
 *            beyond that one commit takes seconds);
 * - sqlite:  node:sqlite (no dependency) in WAL mode, synchronous=FULL, one row per record, one transaction per
 *            commit;
 * - journal: an append-only file of commits (one JSON line each, fsync per commit) over a snapshot; open reads
 *            the snapshot and replays the journal; compaction rewrites the snapshot (cost printed separately).
 * Every record is the real encoding (record-codec.ts) with its HMAC auth (ADR 0013). Prints p50/p99 per commit of
 * one key, the ratio of each size to the smallest, the open time (read + decode everything) and the file size.
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { KeyRecord } from '../src/engine/records.ts';
import { FileKeyStore } from '../src/keystore/file-keystore.ts';
import { decodeKeyRecord, encodeKeyRecord } from '../src/keystore/record-codec.ts';
import { FileRootKey } from '../src/rootkey/file-root-key.ts';

const SIZES = (process.argv[2] ?? '100,10000,100000').split(',').map(Number);
const COMMITS = Number(process.argv[3] ?? 40);
const FILE_MAX = 10_000;
const MAC_KEY = randomBytes(32);

const dir = await mkdtemp(join(tmpdir(), 'kubekms-bench-keystore-'));
const rootKey = await FileRootKey.create(join(dir, 'root.key'));
// One wrapped version reused by every key: wrapping is not what is measured, and 100 000 wraps take a while.
const template: KeyRecord = {
  keyId: '',
  createdAt: 1_700_000_000_000,
  description: 'benchmark key',
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  keyManager: 'CUSTOMER',
  state: 'Enabled',
  rotation: { enabled: true, periodDays: 365, nextRotationAt: 1_731_536_000_000 },
  versions: [{ version: 1, createdAt: 1_700_000_000_000, wrappedMaterial: new Uint8Array(randomBytes(61)) }],
  primaryVersion: 1,
  policy: { statements: [{ effect: 'Allow', principals: ['group:system:masters'], actions: ['kms:*'] }] },
  tags: { team: 'platform' },
  revision: 0,
};
const key = (i: number): KeyRecord => ({
  ...template,
  keyId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
});
const row = (k: KeyRecord) => {
  const json = JSON.stringify(encodeKeyRecord(k));
  return { json, auth: createHmac('sha256', MAC_KEY).update(json).digest('base64') };
};

interface Result {
  readonly p50: number;
  readonly p99: number;
  readonly openMs: number;
  readonly bytes: number;
  readonly extra?: string;
}

async function timeCommits(commit: (i: number) => Promise<void> | void): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t = performance.now();
    await commit(i);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}
const pct = (t: number[], p: number) => t[Math.min(t.length - 1, Math.floor(p * t.length))]!;

async function fileStore(n: number): Promise<Result> {
  const dataDir = join(dir, `file-${n}`);
  const store = new FileKeyStore({ dataDir, rootKey });
  await store.open();
  await store.commit({ putKeys: Array.from({ length: n }, (_, i) => key(i)) });
  const times = await timeCommits((i) => store.commit({ putKeys: [key(n + i)] }));
  await store.close();
  const t = performance.now();
  const again = new FileKeyStore({ dataDir, rootKey });
  await again.open();
  const openMs = performance.now() - t;
  await again.close();
  return {
    p50: pct(times, 0.5),
    p99: pct(times, 0.99),
    openMs,
    bytes: statSync(join(dataDir, 'keystore.json')).size,
  };
}

function sqliteStore(n: number): Result {
  const path = join(dir, `sqlite-${n}.db`);
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;');
  db.exec(
    'CREATE TABLE records (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, auth TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID',
  );
  const put = db.prepare('INSERT OR REPLACE INTO records (kind, id, json, auth) VALUES (?, ?, ?, ?)');
  db.exec('BEGIN');
  for (let i = 0; i < n; i++) {
    const r = row(key(i));
    put.run('Key', key(i).keyId, r.json, r.auth);
  }
  db.exec('COMMIT');
  const times: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t = performance.now();
    const k = key(n + i);
    const r = row(k);
    db.exec('BEGIN IMMEDIATE');
    put.run('Key', k.keyId, r.json, r.auth);
    db.exec('COMMIT');
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  db.close();
  const t = performance.now();
  const again = new DatabaseSync(path);
  let count = 0;
  for (const r of again.prepare('SELECT id, json, auth FROM records').iterate()) {
    const rec = r as { json: string; auth: string };
    if (createHmac('sha256', MAC_KEY).update(rec.json).digest('base64') !== rec.auth) throw new Error('auth');
    decodeKeyRecord(JSON.parse(rec.json), 'k');
    count++;
  }
  const openMs = performance.now() - t;
  again.close();
  const bytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  return {
    p50: times[Math.floor(times.length / 2)]!,
    p99: pct(times, 0.99),
    openMs,
    bytes,
    extra: `${count} rows`,
  };
}

function journalStore(n: number): Result {
  const snapshot = join(dir, `journal-${n}.snapshot`);
  const journal = join(dir, `journal-${n}.log`);
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ put: row(key(i)) }));
  const c0 = performance.now();
  writeFileSync(snapshot, `${lines.join('\n')}\n`);
  const fd0 = openSync(snapshot, 'r+');
  fsyncSync(fd0);
  closeSync(fd0);
  const compactMs = performance.now() - c0;
  const fd = openSync(journal, 'a');
  const times: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t = performance.now();
    appendFileSync(fd, `${JSON.stringify({ put: row(key(n + i)) })}\n`);
    fsyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  times.sort((a, b) => a - b);
  const t = performance.now();
  let count = 0;
  for (const file of [snapshot, journal])
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      const { put } = JSON.parse(line) as { put: { json: string; auth: string } };
      if (createHmac('sha256', MAC_KEY).update(put.json).digest('base64') !== put.auth)
        throw new Error('auth');
      decodeKeyRecord(JSON.parse(put.json), 'k');
      count++;
    }
  const openMs = performance.now() - t;
  const bytes = statSync(snapshot).size + statSync(journal).size;
  return {
    p50: pct(times, 0.5),
    p99: pct(times, 0.99),
    openMs,
    bytes,
    extra: `${count} records; compaction ${compactMs.toFixed(0)} ms`,
  };
}

const f = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
try {
  const base = new Map<string, number>();
  console.log('design   keys      commit p50   p99        vs smallest (p50)  open      size');
  for (const n of SIZES) {
    const runs: [string, () => Promise<Result> | Result][] = [
      ...(n <= FILE_MAX ? [['file', () => fileStore(n)] as [string, () => Promise<Result>]] : []),
      ['sqlite', () => sqliteStore(n)],
      ['journal', () => journalStore(n)],
    ];
    for (const [name, runIt] of runs) {
      const r = await runIt();
      if (!base.has(name)) base.set(name, r.p50);
      const ratio = r.p50 / base.get(name)!;
      const rss = (process.memoryUsage().rss / 2 ** 20).toFixed(0);
      console.log(
        `${name.padEnd(8)} ${String(n).padEnd(9)} ${f(r.p50).padStart(8)} ms ${f(r.p99).padStart(8)} ms ${ratio.toFixed(2).padStart(10)}×        ${f(r.openMs).padStart(7)} ms ${(r.bytes / 2 ** 20).toFixed(1)} MiB${r.extra ? `  (${r.extra}; rss ${rss} MiB)` : ''}`,
      );
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
