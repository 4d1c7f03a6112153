/**
 * A scratch copy of this checkout as a plain `git clone` of it would hold it (tracked files plus untracked ones
 * that are not ignored; uncommitted edits included), for tests that must run from a clone with nothing beside it.
 * node_modules and .tools/ are seeded as hard-link copies (`cp -al`: fast, no network), and node_modules carries
 * the install stamp of scripts/npm-deps.sh, so `scripts/kubekms` in the copy does not reinstall.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const SEEDED = ['node_modules', '.tools'];

/** The files a clone of this working tree holds (paths relative to REPO_ROOT). */
export function cloneFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
  });
  return out
    .toString('utf8')
    .split('\0')
    .filter((f) => f !== '' && !SEEDED.includes(f.split('/')[0]!) && existsSync(join(REPO_ROOT, f)));
}

/** Copies the clone's files to `dest` (created), seeds node_modules and .tools, and returns `dest`. */
export function scratchClone(dest: string): string {
  for (const f of cloneFiles()) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(REPO_ROOT, f), join(dest, f), { verbatimSymlinks: true });
  }
  for (const d of SEEDED) {
    if (existsSync(join(REPO_ROOT, d))) execFileSync('cp', ['-al', join(REPO_ROOT, d), join(dest, d)]);
  }
  // The node_modules this test process runs from is installed from this lock file: say so in the copy (a new
  // file, never a write through a hard link into the checkout's own stamp).
  const stamp = join(dest, 'node_modules', '.kubekms-deps');
  const want = execFileSync(
    'bash',
    ['-c', 'source scripts/node-env.sh && source scripts/npm-deps.sh && npm_deps_stamp .'],
    { cwd: dest },
  );
  rmSync(stamp, { force: true });
  writeFileSync(stamp, want);
  return dest;
}
