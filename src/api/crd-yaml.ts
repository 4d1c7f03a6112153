/**
 * A small YAML emitter for JSON data (maps, lists, strings, numbers, booleans): block style, two-space indent,
 * strings quoted JSON-style whenever a plain scalar could be misread. Enough for CRD manifests.
 */

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ ./-]*$/;
const RESERVED = /^(y|n|yes|no|on|off|true|false|null|~)$/i;

function scalar(v: unknown): string {
  if (typeof v === 'string')
    return PLAIN.test(v) && !RESERVED.test(v) && !v.endsWith(' ') ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  throw new Error(`yaml: unsupported value ${String(v)}`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function lines(v: unknown, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return [`${indent}[]`];
    return v.flatMap((item) => {
      const inner = block(item, `${indent}  `);
      if (inner === undefined) return [`${indent}- ${scalar(item)}`];
      if (inner.length === 0) return [`${indent}- {}`];
      return [`${indent}- ${inner[0]!.trimStart()}`, ...inner.slice(1)];
    });
  }
  if (isObject(v)) {
    return Object.entries(v).flatMap(([k, val]) => {
      const key = scalar(k);
      const inner = block(val, `${indent}  `);
      if (inner === undefined) return [`${indent}${key}: ${scalar(val)}`];
      if (inner.length === 0) return [`${indent}${key}: ${Array.isArray(val) ? '[]' : '{}'}`];
      return [`${indent}${key}:`, ...(Array.isArray(val) ? block(val, indent)! : inner)];
    });
  }
  throw new Error('yaml: expected a map or a list');
}

/** The lines of a map or list value, or undefined for a scalar; [] for an empty collection. */
function block(v: unknown, indent: string): string[] | undefined {
  if (Array.isArray(v)) return v.length === 0 ? [] : lines(v, indent);
  if (isObject(v)) return Object.keys(v).length === 0 ? [] : lines(v, indent);
  return undefined;
}

export function toYaml(doc: Record<string, unknown>): string {
  return `${lines(doc, '').join('\n')}\n`;
}
