/**
 * Strict reading of parsed JSON: every accessor checks the type and range of one field and throws a
 * RecordDecodeError naming its path (`keys[3].versions[0].wrappedMaterial: not base64`). Unknown fields are
 * refused, so a typo in a hand-edited file is reported instead of silently ignored.
 */
import { RecordDecodeError } from './errors.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readArray(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value))
    throw new RecordDecodeError(path, `expected an array, found ${describeJson(value)}`);
  return value;
}

/** Decodes strict, padded, canonical base64 into a fresh Uint8Array. */
export function decodeBase64(value: string): Uint8Array | undefined {
  if (!BASE64.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) return undefined;
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export class JsonObjectReader {
  readonly path: string;
  readonly #fields: Record<string, unknown>;

  constructor(value: unknown, path: string, allowed: readonly string[]) {
    if (!isPlainObject(value))
      throw new RecordDecodeError(path, `expected an object, found ${describeJson(value)}`);
    for (const name of Object.keys(value)) {
      if (!allowed.includes(name)) throw new RecordDecodeError(this.#join(path, name), 'unknown field');
    }
    this.path = path;
    this.#fields = value;
  }

  #join(base: string, name: string): string {
    return base === '' ? name : `${base}.${name}`;
  }

  at(name: string): string {
    return this.#join(this.path, name);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.#fields, name);
  }

  raw(name: string): unknown {
    if (!this.has(name)) throw new RecordDecodeError(this.at(name), 'missing');
    return this.#fields[name];
  }

  #fail(name: string, expected: string, value: unknown): never {
    throw new RecordDecodeError(this.at(name), `expected ${expected}, found ${describeJson(value)}`);
  }

  string(name: string, options: { nonEmpty?: boolean; max?: number } = {}): string {
    const v = this.raw(name);
    if (typeof v !== 'string') this.#fail(name, 'a string', v);
    if (options.nonEmpty && v.length === 0) throw new RecordDecodeError(this.at(name), 'empty');
    if (options.max !== undefined && v.length > options.max) {
      throw new RecordDecodeError(this.at(name), `longer than ${options.max} characters`);
    }
    return v;
  }

  optionalString(name: string, options: { nonEmpty?: boolean; max?: number } = {}): string | undefined {
    return this.has(name) ? this.string(name, options) : undefined;
  }

  boolean(name: string): boolean {
    const v = this.raw(name);
    if (typeof v !== 'boolean') this.#fail(name, 'a boolean', v);
    return v;
  }

  /** A safe integer in [min, max]. */
  integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (typeof v !== 'number') this.#fail(name, 'an integer', v);
    if (!Number.isSafeInteger(v)) throw new RecordDecodeError(this.at(name), `not an integer: ${v}`);
    if (v < min || v > max) throw new RecordDecodeError(this.at(name), `out of range [${min}, ${max}]: ${v}`);
    return v;
  }

  optionalInteger(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    return this.has(name) ? this.integer(name, min, max) : undefined;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const v = this.string(name);
    const found = allowed.find((a) => a === v);
    if (found === undefined) throw new RecordDecodeError(this.at(name), `unknown value ${JSON.stringify(v)}`);
    return found;
  }

  optionalOneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    return this.has(name) ? this.oneOf(name, allowed) : undefined;
  }

  /** Base64 bytes; `nonEmpty` refuses a zero-length value. */
  bytes(name: string, options: { nonEmpty?: boolean } = {}): Uint8Array {
    const v = this.string(name);
    const bytes = decodeBase64(v);
    if (bytes === undefined) throw new RecordDecodeError(this.at(name), 'not base64');
    if (options.nonEmpty && bytes.length === 0) throw new RecordDecodeError(this.at(name), 'empty');
    return bytes;
  }

  optionalBytes(name: string, options: { nonEmpty?: boolean } = {}): Uint8Array | undefined {
    return this.has(name) ? this.bytes(name, options) : undefined;
  }

  array(name: string): readonly unknown[] {
    return readArray(this.raw(name), this.at(name));
  }

  /** An array of strings. */
  strings(name: string): readonly string[] {
    return this.array(name).map((v, i) => {
      if (typeof v !== 'string') {
        throw new RecordDecodeError(`${this.at(name)}[${i}]`, `expected a string, found ${describeJson(v)}`);
      }
      return v;
    });
  }

  /** An object whose values are all strings (tags, encryption context). Safe for keys such as `__proto__`. */
  stringMap(name: string): Readonly<Record<string, string>> {
    const v = this.raw(name);
    if (!isPlainObject(v)) this.#fail(name, 'an object of strings', v);
    const entries = Object.entries(v).map(([k, s]): [string, string] => {
      if (typeof s !== 'string') {
        throw new RecordDecodeError(`${this.at(name)}.${k}`, `expected a string, found ${describeJson(s)}`);
      }
      return [k, s];
    });
    return Object.fromEntries(entries);
  }

  optionalStringMap(name: string): Readonly<Record<string, string>> | undefined {
    return this.has(name) ? this.stringMap(name) : undefined;
  }

  object(name: string, allowed: readonly string[]): JsonObjectReader {
    return new JsonObjectReader(this.raw(name), this.at(name), allowed);
  }

  optionalObject(name: string, allowed: readonly string[]): JsonObjectReader | undefined {
    return this.has(name) ? this.object(name, allowed) : undefined;
  }
}
