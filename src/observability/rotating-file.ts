/**
 * An append-only log file with rotation by size, for `serve --audit-log FILE`: when a write would take FILE past
 * `maxBytes`, FILE becomes FILE.1 (FILE.1 becomes FILE.2, …; the oldest beyond `maxFiles` is dropped) and a new
 * FILE is started. Writes are synchronous and whole (a line is never split across files); files are mode 0600.
 */
import { closeSync, existsSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

export interface RotatingFileOptions {
  readonly path: string;
  /** Rotate before a write that would make the file larger than this (a single larger line is still written). */
  readonly maxBytes: number;
  /** Rotated files kept (FILE.1 … FILE.maxFiles). */
  readonly maxFiles: number;
}

export class RotatingFile extends Writable {
  readonly #o: RotatingFileOptions;
  #fd: number;
  #size: number;

  constructor(o: RotatingFileOptions) {
    super({ decodeStrings: true });
    if (!(o.maxBytes > 0) || !Number.isInteger(o.maxFiles) || o.maxFiles < 1)
      throw new RangeError('rotating file: maxBytes must be > 0 and maxFiles >= 1');
    this.#o = o;
    this.#fd = openSync(o.path, 'a', 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    try {
      if (this.#size > 0 && this.#size + chunk.length > this.#o.maxBytes) this.#rotate();
      let off = 0;
      while (off < chunk.length) off += writeSync(this.#fd, chunk, off);
      this.#size += chunk.length;
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _final(done: (e?: Error | null) => void): void {
    try {
      closeSync(this.#fd);
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  #rotate(): void {
    const { path, maxFiles } = this.#o;
    closeSync(this.#fd);
    for (let i = maxFiles - 1; i >= 1; i--)
      if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    renameSync(path, `${path}.1`);
    this.#fd = openSync(path, 'a', 0o600);
    this.#size = 0;
  }
}
