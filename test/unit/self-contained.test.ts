/**
 * A clone with nothing beside it has every file the unit suites read: no source refers to a sibling `shared`
 * folder (where the vectors used to be read from), and the Wycheproof and AWS-model loaders, run from a copy of
 * the repository whose parent holds no `shared/`, load every vector file a test names and the vendored model.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cloneFiles, REPO_ROOT as root, scratchClone } from '../scratch-clone.ts';

const scratch = mkdtempSync(join(tmpdir(), 'kubekms-clone-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every `*_test.json` vector file that a Wycheproof test names. */
function namedVectorFiles(files: readonly string[]): string[] {
  const names = new Set<string>();
  for (const f of files.filter((f) => /^src\/crypto\/wycheproof.*\.test\.ts$/.test(f))) {
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/'([a-z0-9_]+_test\.json)'/g))
      names.add(m[1]!);
  }
  return [...names].sort();
}

it('no code, test, script or config refers to a folder beside the repository', () => {
  const sibling = new RegExp(`\\.\\./${'shared'}\\b`); // spelled so that this file does not match itself
  const code = cloneFiles().filter(
    (f) => /^(src|test|scripts|bench|\.ci)\//.test(f) || /^[^/]+\.(json|ts)$|^Dockerfile$/.test(f),
  );
  expect(code.length).toBeGreaterThan(100);
  const offenders = code.filter((f) => sibling.test(readFileSync(join(root, f), 'latin1')));
  expect(offenders).toEqual([]);
});

it('the vector and model loaders work in a copy whose parent has no shared/ folder', () => {
  const vectors = namedVectorFiles(cloneFiles());
  expect(vectors.length).toBeGreaterThanOrEqual(20);
  const copy = scratchClone(join(scratch, 'repo'));
  expect(existsSync(join(scratch, 'shared'))).toBe(false);
  const script = `
    import { loadVectors } from './src/crypto/wycheproof-vectors.ts';
    import { readServiceModel, VENDORED_SOURCE } from './src/aws/model/generate.ts';
    const groups = {};
    for (const name of JSON.parse(process.argv[1])) groups[name] = loadVectors(name).testGroups.length;
    const operations = Object.keys(readServiceModel(VENDORED_SOURCE).operations).length;
    process.stdout.write(JSON.stringify({ groups, operations, source: VENDORED_SOURCE }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(vectors)], {
    cwd: copy,
  });
  const result = JSON.parse(out.toString('utf8')) as {
    groups: Record<string, number>;
    operations: number;
    source: string;
  };
  expect(Object.keys(result.groups).sort()).toEqual(vectors);
  for (const [name, n] of Object.entries(result.groups)) expect(n, name).toBeGreaterThan(0);
  expect(result.operations).toBe(54);
  expect(result.source.startsWith(copy)).toBe(true);
});
