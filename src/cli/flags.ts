/**
 * A small declarative flag parser: every flag has a type, a default, help text and an environment-variable twin
 * (`--data-dir` ↔ `KUBEKMS_DATA_DIR`). Command-line values win over the environment. Unknown flags and bad values
 * are errors that name the flag.
 */
export type FlagType = 'string' | 'boolean' | 'int' | 'duration' | { readonly oneOf: readonly string[] };

export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly help: string;
  readonly default?: string | boolean | number;
  /** Shown in help instead of the default (e.g. for secrets or computed defaults). */
  readonly defaultText?: string;
}

export type FlagValues = Record<string, string | boolean | number | undefined>;

export class UsageError extends Error {
  override name = 'UsageError';
}

export const envName = (flag: string): string => `KUBEKMS_${flag.toUpperCase().replaceAll('-', '_')}`;

/** Parses `30s`, `5m`, `2h`, `1500ms` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

function convert(spec: FlagSpec, raw: string, source: string): string | boolean | number {
  const t = spec.type;
  if (t === 'string') return raw;
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

export function parseFlags(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { values: FlagValues; positionals: string[] } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  for (const s of specs) {
    const e = env[envName(s.name)];
    values[s.name] = e !== undefined ? convert(s, e, `${envName(s.name)} (for --${s.name})`) : s.default;
  }
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
    const spec = byName.get(negated ? name.slice(3) : name);
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    if (negated) {
      values[spec.name] = false;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${spec.name}: needs a value`);
      raw = next;
      i++;
    }
    values[spec.name] = convert(spec, raw, `--${spec.name}`);
  }
  return { values, positionals };
}

export function formatHelp(usage: string, description: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const type = typeof s.type === 'string' ? s.type : s.type.oneOf.join('|');
    const def = s.defaultText ?? (s.default === undefined ? '' : ` (default ${JSON.stringify(s.default)})`);
    return `  --${s.name} ${s.type === 'boolean' ? '' : `<${type}>`}\n      ${s.help}${def}\n      env: ${envName(s.name)}`;
  });
  return `${usage}\n\n${description}\n\nFlags:\n${rows.join('\n')}\n`;
}
