/**
 * Request bodies, checked against the operation's input shape in the AWS model: types of every known member
 * (blobs are standard base64 and become bytes), required members present. Unknown members are dropped, as
 * AWS does (SDKs add members over time). Value rules (enums, ranges, lengths) are the engine's, which knows
 * the AWS limits and the right exception for each.
 */
import { KmsError } from '../engine/errors.ts';
import { type Shape, shapeOf } from './model/model.ts';

export type Input = Readonly<Record<string, unknown>>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const invalid = (path: string, problem: string): KmsError =>
  new KmsError('ValidationException', `1 validation error detected: Value at '${path}' ${problem}`, path);

const members = new WeakMap<Shape, readonly (readonly [string, Shape])[]>();
/** A structure's members with their shapes, resolved once per shape (not per request). */
function membersOf(shape: Shape): readonly (readonly [string, Shape])[] {
  let m = members.get(shape);
  if (!m) {
    m = Object.entries(shape.members ?? {}).map(([name, ref]) => [name, shapeOf(ref.shape)] as const);
    members.set(shape, m);
  }
  return m;
}

function decode(value: unknown, shape: Shape, path: string): unknown {
  switch (shape.type) {
    case 'string':
      if (typeof value !== 'string') throw invalid(path, 'must be a string');
      return value;
    case 'blob':
      if (typeof value !== 'string' || !BASE64.test(value))
        throw invalid(path, 'must be base64-encoded bytes');
      return Buffer.from(value, 'base64');
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(path, 'must be a boolean');
      return value;
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        throw invalid(path, 'must be an integer');
      return value;
    case 'double':
    case 'float':
    case 'timestamp':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(path, 'must be a number');
      return value;
    case 'list': {
      if (!Array.isArray(value)) throw invalid(path, 'must be a list');
      const item = shapeOf(shape.member!.shape);
      return value.map((v, i) => {
        if (v === null) throw invalid(`${path}[${i}]`, 'must not be null');
        return decode(v, item, `${path}[${i}]`);
      });
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalid(path, 'must be a map');
      const vs = shapeOf(shape.value!.shape);
      const out: Record<string, unknown> = Object.create(null);
      for (const [k, v] of Object.entries(value)) {
        if (v === null) throw invalid(`${path}.${k}`, 'must not be null');
        out[k] = decode(v, vs, `${path}.${k}`);
      }
      return out;
    }
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalid(path, 'must be an object');
      const src = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [name, member] of membersOf(shape)) {
        const v = Object.hasOwn(src, name) ? src[name] : undefined;
        if (v === undefined || v === null) continue;
        out[name] = decode(v, member, path ? `${path}.${name}` : name);
      }
      for (const name of shape.required ?? []) {
        if (out[name] === undefined) {
          const at = path ? `${path}.${name}` : name;
          throw new KmsError(
            'ValidationException',
            `1 validation error detected: Value null at '${at}' failed to satisfy constraint: Member must not be null`,
            at,
          );
        }
      }
      return out;
    }
  }
}

/** Decodes a parsed JSON body for `inputShape`. Throws ValidationException naming the member. */
export function decodeInput(body: unknown, inputShape: string | undefined): Input {
  if (inputShape === undefined) return {};
  return decode(body, shapeOf(inputShape), '') as Input;
}
