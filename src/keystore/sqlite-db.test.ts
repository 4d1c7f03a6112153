/**
 * The read-write connection's thread (sqlite-db.ts): it stops when idle and starts again on demand, without losing
 * or reordering a transaction, and a transaction that fails inside SQLite rolls back without stopping the writer.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteError, SqliteReader, SqliteWriter, writeDatabase } from './sqlite-db.ts';
import { tempDir } from './testing.ts';

const dir = tempDir('kubekms-sqlite-db-');
const writers: SqliteWriter[] = [];
let databases = 0;

afterEach(async () => {
  for (const w of writers.splice(0)) await w.close();
});

async function database(): Promise<{ path: string; rows: () => number[] }> {
  const path = join(dir(), `db-${++databases}.sqlite`);
  writeDatabase(path, [{ sql: 'CREATE TABLE t (n INTEGER PRIMARY KEY)', params: [] }]);
  const rows = () => {
    const r = SqliteReader.open(path);
    try {
      return r.snapshot((q) => [...q.iterate('SELECT n FROM t ORDER BY n')].map((row) => Number(row.n)));
    } finally {
      r.close();
    }
  };
  return { path, rows };
}

async function start(path: string, idleMs: number): Promise<SqliteWriter> {
  const w = await SqliteWriter.start(path, { idleMs });
  writers.push(w);
  return w;
}

const insert = (n: number) => [{ sql: 'INSERT INTO t (n) VALUES (?)', params: [n] }];

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SqliteWriter', () => {
  it('starts its thread with the first transaction, stops it once idle and starts it again', async () => {
    const { path, rows } = await database();
    const w = await start(path, 50);
    expect(w.threadRunning).toBe(false);
    await w.transaction(insert(1));
    expect(w.threadRunning).toBe(true);
    await until('the idle thread to stop', () => !w.threadRunning);
    await w.transaction(insert(2));
    expect(w.threadRunning).toBe(true);
    expect(rows()).toEqual([1, 2]);
  });

  it('keeps the thread while transactions keep coming', async () => {
    const { path } = await database();
    const w = await start(path, 200);
    for (let n = 0; n < 10; n++) {
      await w.transaction(insert(n));
      await new Promise((r) => setTimeout(r, 30));
      expect(w.threadRunning).toBe(true);
    }
  });

  it('loses no transaction that arrives while an idle thread is being stopped', async () => {
    const { path, rows } = await database();
    const w = await start(path, 1);
    const wanted: number[] = [];
    for (let round = 0; round < 20; round++) {
      // Let the idle timer fire, then send a burst at the instant the old thread closes.
      await new Promise((r) => setTimeout(r, 2 + (round % 3)));
      const burst = [0, 1, 2].map((i) => round * 10 + i);
      wanted.push(...burst);
      await Promise.all(burst.map((n) => w.transaction(insert(n))));
    }
    expect(rows()).toEqual(wanted);
  });

  it('rolls back a failed transaction and goes on serving', async () => {
    const { path, rows } = await database();
    const w = await start(path, 1_000);
    await w.transaction(insert(1));
    await expect(w.transaction([...insert(2), ...insert(1)])).rejects.toThrow(SqliteError);
    await w.transaction(insert(3));
    expect(rows()).toEqual([1, 3]);
  });

  it('fails at start when the database cannot be opened read-write, and is refused once closed', async () => {
    await expect(SqliteWriter.start(join(dir(), 'missing', 'db.sqlite'))).rejects.toThrow(SqliteError);
    const { path } = await database();
    const w = await SqliteWriter.start(path, { idleMs: 1_000 });
    await w.close();
    expect(w.threadRunning).toBe(false);
    await expect(w.transaction(insert(1))).rejects.toThrow(/closed/);
  });
});
