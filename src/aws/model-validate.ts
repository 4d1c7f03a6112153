/**
 * Checks a response body against the AWS model (test use): member names, required members, types, enums,
 * lengths, ranges and patterns of the operation's output shape, and for errors the `{"__type","message"}`
 * form with a type the operation's model lists or a generic AWS protocol error. Returns the problems found.
 */
import { MODEL, type Shape, shapeOf } from './model/model.ts';

/** Errors every AWS JSON 1.1 service may answer, outside each operation's modelled list. */
export const GENERIC_ERRORS = [
  'ValidationException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'SerializationException',
  'UnknownOperationException',
  'RequestEntityTooLargeException',
  'RequestTimeoutException',
  'ThrottlingException',
  'UnsupportedOperationException',
  'DryRunOperationException',
];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function pattern(p: string): RegExp | undefined {
  try {
    return new RegExp(p, 'u');
  } catch {
    return undefined;
  }
}

function check(value: unknown, shapeName: string, path: string, out: string[]): void {
  const s: Shape = shapeOf(shapeName);
  const bad = (problem: string) => out.push(`${path || '<body>'} (${shapeName}): ${problem}`);
  const range = (n: number, what: string) => {
    if (s.min !== undefined && n < s.min) bad(`${what} ${n} < min ${s.min}`);
    if (s.max !== undefined && n > s.max) bad(`${what} ${n} > max ${s.max}`);
  };
  switch (s.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return void bad('not an object');
      const v = value as Record<string, unknown>;
      for (const [k, x] of Object.entries(v)) {
        const m = s.members?.[k];
        if (!m) bad(`unknown member ${k}`);
        else if (x === null) bad(`member ${k} is null (absent members must be left out)`);
        else check(x, m.shape, path ? `${path}.${k}` : k, out);
      }
      for (const r of s.required ?? []) if (v[r] === undefined) bad(`required member ${r} missing`);
      return;
    }
    case 'string':
      if (typeof value !== 'string') return void bad('not a string');
      if (s.enum && !s.enum.includes(value)) bad(`${JSON.stringify(value)} not in enum`);
      range(value.length, 'length');
      if (s.pattern && pattern(s.pattern) && !pattern(s.pattern)!.test(value))
        bad(`does not match ${s.pattern}`);
      return;
    case 'blob':
      if (typeof value !== 'string' || !BASE64.test(value)) return void bad('not base64');
      range(Buffer.from(value, 'base64').length, 'bytes');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') bad('not a boolean');
      return;
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) return void bad('not an integer');
      range(value, 'value');
      return;
    case 'timestamp':
    case 'double':
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad('not a number (epoch seconds)');
      return;
    case 'list':
      if (!Array.isArray(value)) return void bad('not a list');
      range(value.length, 'items');
      for (const [i, x] of value.entries()) check(x, s.member!.shape, `${path}[${i}]`, out);
      return;
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return void bad('not a map');
      for (const [k, x] of Object.entries(value)) {
        check(k, s.key!.shape, `${path}{key}`, out);
        check(x, s.value!.shape, `${path}.${k}`, out);
      }
      return;
  }
}

/** Problems of one response of `operation` (empty when it conforms). */
export function validateResponse(operation: string, status: number, body: string): string[] {
  const out: string[] = [];
  let json: unknown;
  try {
    json = body === '' ? {} : JSON.parse(body);
  } catch {
    return [`${operation}: body is not JSON`];
  }
  const op = Object.hasOwn(MODEL.operations, operation) ? MODEL.operations[operation] : undefined;
  if (status === 200) {
    if (!op) return [`${operation}: 200 for an operation not in the model`];
    if (!op.output) {
      if (typeof json !== 'object' || json === null || Object.keys(json).length > 0)
        out.push(`${operation}: body must be empty`);
      return out;
    }
    check(json, op.output.shape, '', out);
    return out.map((p) => `${operation}: ${p}`);
  }
  const e = json as Record<string, unknown>;
  if (typeof e !== 'object' || e === null) return [`${operation}: error body is not an object`];
  const keys = Object.keys(e).sort().join(',');
  if (keys !== '__type,message')
    out.push(`${operation}: error body members are ${keys}, want __type,message`);
  if (typeof e.__type !== 'string' || typeof e.message !== 'string')
    out.push(`${operation}: __type/message not strings`);
  const type = String(e.__type);
  const modelled = op?.errors?.some((x) => x.shape === type) ?? false;
  if (!modelled && !GENERIC_ERRORS.includes(type))
    out.push(`${operation}: error ${type} is not in the model's list`);
  const shape = Object.hasOwn(MODEL.shapes, type) ? MODEL.shapes[type] : undefined;
  const fault =
    shape?.exception &&
    ['KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException'].includes(type);
  if (status >= 500 !== Boolean(fault)) out.push(`${operation}: status ${status} for ${type}`);
  return out;
}
