/**
 * A small declarative flag parser: every flag has a type, a default, help text and an environment-variable twin
 * (`--data-dir` ↔ `KUBEKMS_DATA_DIR`). Command-line values win over the environment. Unknown flags and bad values
 * are errors that name the flag. A table declared `as const` gives typed values (`FlagValuesOf`); `path` flags are
 * resolved against the working directory here, once, so every later reader sees an absolute path.
 */
import { resolve } from 'node:path';

export type FlagType =
  | 'string'
  | 'path'
  | 'boolean'
  | 'int'
  | 'duration'
  | { readonly oneOf: readonly string[] };

export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly help: string;
  readonly default?: string | boolean | number;
  /** Shown in help instead of the default (e.g. for secrets or computed defaults). */
  readonly defaultText?: string;
  /** Old spellings still accepted (flag and environment twin), each with a deprecation warning. */
  readonly deprecatedNames?: readonly string[];
}

type ValueOf<T extends FlagType> = T extends 'boolean'
  ? boolean
  : T extends 'int' | 'duration'
    ? number
    : T extends { readonly oneOf: readonly (infer U extends string)[] }
      ? U
      : string;

/** The parsed values of a flag table declared `as const`: a flag without a default may be undefined. */
export type FlagValuesOf<S extends readonly FlagSpec[]> = {
  readonly [F in S[number] as F['name']]: F extends { readonly default: string | boolean | number }
    ? ValueOf<F['type']>
    : ValueOf<F['type']> | undefined;
};

/** Untyped values, for code that handles any table (help, tests). */
export type FlagValues = Readonly<Record<string, string | boolean | number | undefined>>;

export interface ParsedFlags<S extends readonly FlagSpec[]> {
  readonly values: FlagValuesOf<S>;
  readonly positionals: string[];
  /** Deprecation warnings (old flag spellings), for the caller to print. */
  readonly warnings: string[];
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const envName = (flag: string): string => `KUBEKMS_${flag.toUpperCase().replaceAll('-', '_')}`;

/** The flags of `specs` named in `names`, in the table's order, keeping their types. */
export function pickFlags<S extends readonly FlagSpec[], N extends S[number]['name']>(
  specs: S,
  names: readonly N[],
): Extract<S[number], { readonly name: N }>[] {
  const wanted = new Set<string>(names);
  return specs.filter((s): s is Extract<S[number], { readonly name: N }> => wanted.has(s.name));
}

/** Parses `30s`, `5m`, `2h`, `1500ms` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

function convert(spec: FlagSpec, raw: string, source: string, cwd: string): string | boolean | number {
  const t = spec.type;
  if (t === 'string') return raw;
  if (t === 'path') return raw === '' ? '' : resolve(cwd, raw);
  if (t === 'boolean') {
    if (['true', '1', 'yes', ''].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    throw new UsageError(`${source}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  if (t === 'int') {
    if (!/^-?\d+$/.test(raw))
      throw new UsageError(`${source}: expected an integer, got ${JSON.stringify(raw)}`);
    return Number(raw);
  }
  if (t === 'duration') {
    const ms = parseDuration(raw);
    if (ms === undefined)
      throw new UsageError(
        `${source}: expected a duration such as 30s, 5m or 1h, got ${JSON.stringify(raw)}`,
      );
    return ms;
  }
  if (!t.oneOf.includes(raw))
    throw new UsageError(`${source}: must be one of ${t.oneOf.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw;
}

const deprecation = (old: string, spec: FlagSpec): string =>
  `${old} is deprecated and will be removed in the next release: use --${spec.name} (${envName(spec.name)})`;

/** Defaults, overridden by the environment twins (the current name wins over a deprecated one). */
function fromEnvironment(
  specs: readonly FlagSpec[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  warnings: string[],
): Record<string, string | boolean | number | undefined> {
  const values: Record<string, string | boolean | number | undefined> = {};
  for (const s of specs) {
    values[s.name] = typeof s.default === 'string' ? convert(s, s.default, `--${s.name}`, cwd) : s.default;
    for (const old of s.deprecatedNames ?? []) {
      const e = env[envName(old)];
      if (e === undefined) continue;
      warnings.push(deprecation(envName(old), s));
      values[s.name] = convert(s, e, `${envName(old)} (for --${s.name})`, cwd);
    }
    const e = env[envName(s.name)];
    if (e !== undefined) values[s.name] = convert(s, e, `${envName(s.name)} (for --${s.name})`, cwd);
  }
  return values;
}

export function parseFlags<const S extends readonly FlagSpec[]>(
  specs: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): ParsedFlags<S> {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of [s.name, ...(s.deprecatedNames ?? [])]) byName.set(n, s);
  const warnings: string[] = [];
  const values = fromEnvironment(specs, env, cwd, warnings);
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const negated = name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean';
    const given = negated ? name.slice(3) : name;
    const spec = byName.get(given);
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    if (given !== spec.name) warnings.push(deprecation(`--${given}`, spec));
    if (negated) {
      values[spec.name] = false;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${given}: needs a value`);
      raw = next;
      i++;
    }
    values[spec.name] = convert(spec, raw, `--${given}`, cwd);
  }
  return { values: values as FlagValuesOf<S>, positionals, warnings };
}

export function formatHelp(usage: string, description: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const type = typeof s.type === 'string' ? s.type : s.type.oneOf.join('|');
    const def = s.defaultText ?? (s.default === undefined ? '' : ` (default ${JSON.stringify(s.default)})`);
    const old = s.deprecatedNames?.length
      ? `\n      deprecated spellings: ${s.deprecatedNames.map((n) => `--${n}`).join(', ')}`
      : '';
    return `  --${s.name} ${s.type === 'boolean' ? '' : `<${type}>`}\n      ${s.help}${def}\n      env: ${envName(s.name)}${old}`;
  });
  return `${usage}\n\n${description}\n${rows.length ? `\nFlags:\n${rows.join('\n')}\n` : ''}`;
}
