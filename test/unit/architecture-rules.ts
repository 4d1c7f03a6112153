/**
 * The rooms of src/ and what each may import (docs/architecture.md), and a checker that finds every import that
 * crosses a forbidden boundary. Imports are read with the TypeScript scanner: static, type-only, re-exports and
 * dynamic import() all count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';

export const ROOMS = [
  'engine',
  'crypto',
  'keystore',
  'rootkey',
  'observability',
  'kube',
  'api',
  'kmsv2',
  'aws',
  'operator',
  'ha',
  'doctor',
  'cli',
] as const;
export type Room = (typeof ROOMS)[number];

/** The adapters: each talks to one outside world and none may import another (only cli composes them). */
export const ADAPTERS: readonly Room[] = ['kmsv2', 'aws', 'operator', 'ha', 'doctor'];
const SHARED: readonly Room[] = ['engine', 'crypto', 'keystore', 'rootkey', 'observability', 'kube', 'api'];

/** Room → the other rooms it may import. */
export const MAY_IMPORT: Readonly<Record<Room, readonly Room[]>> = {
  engine: [],
  crypto: ['engine'],
  rootkey: ['engine'],
  keystore: ['engine', 'rootkey'],
  observability: ['engine'],
  kube: [],
  api: ['engine', 'keystore', 'kube'],
  kmsv2: SHARED,
  aws: SHARED,
  operator: SHARED,
  ha: SHARED,
  doctor: SHARED,
  cli: ROOMS.filter((r) => r !== 'cli'),
};

/** Node built-ins that do I/O: never in the engine. */
const IO_BUILTINS =
  /^node:(fs|fs\/promises|http|https|http2|net|tls|dgram|dns|child_process|worker_threads)$/;
/** The only package a room outside kube/ may not import: the Kubernetes client (so kube-less starts never load it). */
const KUBE_CLIENT = '@kubernetes/client-node';
/** node:sqlite is still "active development" in Node 24: one file wraps it (docs/adr/0016). */
const SQLITE = 'node:sqlite';
const SQLITE_WRAPPER = 'src/keystore/sqlite-db.ts';

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly rule: string;
}

/** Files the rules apply to: production code. Tests and fixture generators may reach anywhere. */
export const isChecked = (file: string): boolean => !/\.test\.ts$/.test(file) && !/\/testdata\//.test(file);

export function roomOf(file: string): Room | undefined {
  const parts = file.split('/');
  if (parts[0] !== 'src' || parts.length < 3) return undefined;
  return ROOMS.find((r) => r === parts[1]);
}

export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The violations of one file (`file` relative to the repository root, with `/`). */
export function checkFile(file: string, source: string): Violation[] {
  const room = roomOf(file);
  if (!room || !isChecked(file)) return [];
  const out: Violation[] = [];
  for (const specifier of importsOf(source)) {
    const rule = ruleBroken(file, room, specifier);
    if (rule) out.push({ file, specifier, rule });
  }
  return out;
}

function ruleBroken(file: string, room: Room, specifier: string): string | undefined {
  if (specifier.startsWith('.')) {
    const target = roomOf(posix.normalize(posix.join(posix.dirname(file), specifier)));
    if (!target || target === room || MAY_IMPORT[room].includes(target)) return undefined;
    if (ADAPTERS.includes(room) && ADAPTERS.includes(target))
      return `adapter ${room} imports adapter ${target}`;
    return `${room} may not import ${target}`;
  }
  if (specifier === KUBE_CLIENT && room !== 'kube') return `${KUBE_CLIENT} is imported only in kube/`;
  if (specifier === SQLITE && file !== SQLITE_WRAPPER)
    return `${SQLITE} is imported only in ${SQLITE_WRAPPER}`;
  if (room === 'engine' && (specifier.startsWith('node:') ? IO_BUILTINS.test(specifier) : true))
    return `engine imports ${specifier.startsWith('node:') ? 'I/O' : 'a package'}`;
  return undefined;
}

/** Every .ts file under src/ of the repository at `root`, as repository-relative paths. */
export function sourceFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  return walk(join(root, 'src')).map((f) => relative(root, f).split('\\').join('/'));
}

export function checkRepository(root: string): { files: number; imports: number; violations: Violation[] } {
  let imports = 0;
  const violations: Violation[] = [];
  const files = sourceFiles(root).filter(isChecked);
  for (const f of files) {
    const source = readFileSync(join(root, f), 'utf8');
    imports += importsOf(source).length;
    violations.push(...checkFile(f, source));
  }
  return { files: files.length, imports, violations };
}

/** The rules as the markdown table docs/architecture.md carries (the test keeps the two equal). */
export function rulesTable(): string {
  const rows = ROOMS.map((r) => `| ${r} | ${MAY_IMPORT[r].length ? MAY_IMPORT[r].join(', ') : '—'} |`);
  return ['| room | may import |', '|---|---|', ...rows].join('\n');
}

export const REPO_ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
