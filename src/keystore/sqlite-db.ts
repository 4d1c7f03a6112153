/**
 * node:sqlite, wrapped: the only file that imports it (its API is "Stability 1.1 – active development" in Node 24,
 * docs/adr/0016), so that a change of that API touches this file alone. Three ways in:
 *
 * - `SqliteReader`: a read-only connection; `snapshot` reads inside one read transaction (a consistent view while
 *   another connection commits). Used to check a store before anything writes to it, by doctor and by backups.
 * - `writeDatabase`: one transaction on a database no one has open, then closed (WAL folded into the file).
 * - `SqliteWriter`: the read-write connection, in a worker thread, so that the fsync of a commit
 *   (synchronous=FULL) never blocks the event loop that answers Encrypt and Decrypt. One transaction per call
 *   (BEGIN IMMEDIATE … COMMIT); any failure rolls it back. The thread stops when idle and starts on demand.
 *
 * This file is also the worker's entry point (it starts serving when loaded as the writer worker).
 */
import { DatabaseSync } from 'node:sqlite';
import { isMainThread, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';

export type SqlValue = null | number | bigint | string | Uint8Array;
export type SqlRow = Record<string, SqlValue>;

export interface SqlStatement {
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

/** A failure of SQLite itself (corrupt file, not a database, I/O error, …): `detail` is SQLite's own words. */
export class SqliteError extends Error {
  readonly detail: string;
  constructor(detail: string, options?: ErrorOptions) {
    super(`sqlite: ${detail}`, options);
    this.name = 'SqliteError';
    this.detail = detail;
  }
}

function wrapped<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new SqliteError(e instanceof Error ? e.message : String(e), { cause: e });
  }
}

const PRAGMAS = 'PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;';

export interface SqlQuery {
  get(sql: string, ...params: SqlValue[]): SqlRow | undefined;
  iterate(sql: string, ...params: SqlValue[]): Iterable<SqlRow>;
}

export class SqliteReader {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens `path` read-only; it must exist. */
  static open(path: string): SqliteReader {
    return new SqliteReader(wrapped(() => new DatabaseSync(path, { readOnly: true })));
  }

  /** Runs `read` inside one read transaction: every query sees the same committed state. */
  snapshot<T>(read: (q: SqlQuery) => T): T {
    const db = this.#db;
    const q: SqlQuery = {
      get: (sql, ...params) => wrapped(() => db.prepare(sql).get(...params) as SqlRow | undefined),
      iterate: (sql, ...params) => wrapped(() => db.prepare(sql).iterate(...params) as Iterable<SqlRow>),
    };
    wrapped(() => db.exec('BEGIN'));
    try {
      return read(q);
    } finally {
      wrapped(() => db.exec('COMMIT'));
    }
  }

  close(): void {
    wrapped(() => this.#db.close());
  }
}

/** Opens the database at `path` (created when absent), runs `statements` in one transaction and closes it. */
export function writeDatabase(path: string, statements: readonly SqlStatement[]): void {
  wrapped(() => {
    const db = new DatabaseSync(path);
    try {
      db.exec(PRAGMAS);
      runTransaction(db, statements, 'BEGIN');
    } finally {
      db.close();
    }
  });
}

function runTransaction(db: DatabaseSync, statements: readonly SqlStatement[], begin: string): void {
  db.exec(begin);
  try {
    for (const s of statements) db.prepare(s.sql).run(...s.params);
    db.exec('COMMIT');
  } catch (e) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

type Request =
  | { readonly id: number; readonly statements: readonly SqlStatement[] }
  | { readonly id: number };
type Reply = { readonly id: number; readonly error?: string };
const WORKER_MARK = 'kubekms-sqlite-writer';

/** How long the writer thread outlives its last transaction (a thread costs ~18 MiB resident while it lives). */
export const WRITER_IDLE_MS = 10_000;

/**
 * The read-write connection. Its worker thread starts with a transaction and stops `idleMs` after the last one: an
 * idle kubekms (a plugin that commits only when a key is created or rotated) does not keep a thread. A thread that
 * failed during a transaction (whose outcome is then unknown) fails every later one.
 */
export class SqliteWriter {
  readonly #path: string;
  readonly #idleMs: number;
  #thread: Promise<WriterThread> | undefined;
  #stopping: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Set when a thread failed during a transaction (its outcome unknown): every later one fails with it. */
  #failure: Error | undefined;

  private constructor(path: string, idleMs: number) {
    this.#path = path;
    this.#idleMs = idleMs;
  }

  /**
   * Checks that `path` opens read-write (WAL, synchronous=FULL), here, so that a database that cannot be written
   * fails at start; the thread starts with the first transaction.
   */
  static async start(path: string, options: { idleMs?: number } = {}): Promise<SqliteWriter> {
    wrapped(() => {
      const db = new DatabaseSync(path);
      try {
        db.exec(PRAGMAS);
      } finally {
        db.close();
      }
    });
    return new SqliteWriter(path, options.idleMs ?? WRITER_IDLE_MS);
  }

  /** True while the worker thread runs (between a transaction and `idleMs` after the last one). */
  get threadRunning(): boolean {
    return this.#thread !== undefined;
  }

  /** Runs `statements` in one transaction (BEGIN IMMEDIATE … COMMIT); resolves once COMMIT returned. */
  async transaction(statements: readonly SqlStatement[]): Promise<void> {
    const thread = await this.#acquire();
    try {
      await thread.transaction(statements);
    } catch (e) {
      if (thread.failed) this.#failure ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      this.#release();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const thread = this.#thread;
    this.#thread = undefined;
    await (await thread?.catch(() => undefined))?.close();
    await this.#stopping;
  }

  #acquire(): Promise<WriterThread> {
    if (this.#closed) return Promise.reject(new SqliteError('the writer is closed'));
    if (this.#failure !== undefined) return Promise.reject(new SqliteError(this.#failure.message));
    clearTimeout(this.#idleTimer);
    this.#inFlight++;
    // A thread being stopped closes its connection first, so that the new one never waits on it.
    this.#thread ??= this.#stopping.then(() => WriterThread.start(this.#path));
    const thread = this.#thread;
    return thread.catch((e: unknown) => {
      if (this.#thread === thread) this.#thread = undefined; // a start that failed is tried again next time
      this.#release();
      throw e;
    });
  }

  #release(): void {
    if (--this.#inFlight > 0 || this.#closed) return;
    this.#idleTimer = setTimeout(() => this.#stopIdle(), this.#idleMs);
    this.#idleTimer.unref();
  }

  #stopIdle(): void {
    const thread = this.#thread;
    if (this.#inFlight > 0 || thread === undefined) return;
    this.#thread = undefined;
    this.#stopping = thread.then(
      (t) => t.close(),
      () => undefined,
    );
  }
}

/** One worker thread holding the read-write connection. */
class WriterThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (r: Reply) => void>();
  #next = 1;
  #failure: Error | undefined;
  #closing = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    // Referenced only while a request is in flight: an idle writer does not keep the process alive.
    worker.unref();
    worker.on('message', (r: Reply) => {
      const done = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) worker.unref();
      done?.(r);
    });
    const fail = (e: Error) => {
      this.#failure ??= e;
      for (const done of this.#pending.values()) done({ id: 0, error: e.message });
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => {
      if (!this.#closing) fail(new Error('the writer thread stopped'));
    });
  }

  static async start(path: string): Promise<WriterThread> {
    const worker = new Worker(new URL(import.meta.url), { workerData: { [WORKER_MARK]: path } });
    const thread = new WriterThread(worker);
    try {
      await thread.#send({ id: 0 });
    } catch (e) {
      await thread.close();
      throw e;
    }
    return thread;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  transaction(statements: readonly SqlStatement[]): Promise<void> {
    return this.#send({ id: this.#next++, statements });
  }

  async close(): Promise<void> {
    if (this.#failure === undefined) await this.#send({ id: -1 }).catch(() => {});
    this.#closing = true;
    await this.#worker.terminate();
  }

  #send(request: Request): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(new SqliteError(this.#failure.message));
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, (r) =>
        r.error === undefined ? resolve() : reject(new SqliteError(r.error)),
      );
      this.#worker.ref();
      this.#worker.postMessage(request);
    });
  }
}

/** The worker side: id 0 opens, -1 closes, any other id runs a transaction. */
function serveWriter(port: MessagePort, path: string): void {
  let db: DatabaseSync | undefined;
  port.on('message', (r: Request) => {
    try {
      if (r.id === 0) {
        db = new DatabaseSync(path);
        db.exec(PRAGMAS);
      } else if (r.id === -1) {
        db?.close();
        db = undefined;
      } else if (db !== undefined && 'statements' in r) {
        runTransaction(db, r.statements, 'BEGIN IMMEDIATE');
      } else throw new Error('not open');
      port.postMessage({ id: r.id } satisfies Reply);
    } catch (e) {
      port.postMessage({ id: r.id, error: e instanceof Error ? e.message : String(e) } satisfies Reply);
    }
  });
}

const writerPath = isMainThread ? undefined : (workerData as Record<string, unknown> | null)?.[WORKER_MARK];
if (typeof writerPath === 'string' && parentPort !== null) serveWriter(parentPort, writerPath);
