/**
 * The published build (tsconfig.build.json → dist/) holds what `kubekms` runs and no test support: no tests,
 * fakes, harnesses, vector loaders, SigV4 request signers or testdata tools.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Test support that lives beside the code in src/ (by path). */
const TEST_SUPPORT = [
  /\.test\.ts$/,
  /\/testing(\/|\.ts$)/,
  /\/testdata\//,
  /fake/i,
  /^src\/crypto\/wycheproof/,
  /^src\/aws\/model-validate\.ts$/,
];
const isTestSupport = (f: string): boolean => TEST_SUPPORT.some((re) => re.test(f));

/** The src/ files tsc compiles for tsconfig.build.json: its roots and, transitively, every module they import. */
function publishedSources(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('tsconfig.build.json: unreadable');
  const seen = new Set<string>();
  const queue = [...config.fileNames];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file) || !file.startsWith(join(root, 'src'))) continue;
    seen.add(file);
    if (!file.endsWith('.ts')) continue;
    for (const ref of ts.preProcessFile(ts.sys.readFile(file) ?? '', true, true).importedFiles) {
      const resolved = ts.resolveModuleName(ref.fileName, file, config.options, ts.sys).resolvedModule;
      if (resolved) queue.push(resolved.resolvedFileName);
    }
  }
  return [...seen].map((f) => relative(root, f)).sort();
}

function srcFiles(dir = join(root, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? srcFiles(join(dir, e.name)) : [relative(root, join(dir, e.name))],
  );
}

it('the build compiles the CLI and what it imports, and no test support', () => {
  const published = publishedSources();
  expect(published).toContain('src/cli/main.ts');
  expect(published).toContain('src/kmsv2/server.ts');
  expect(published.length).toBeGreaterThan(100);
  expect(published.filter(isTestSupport)).toEqual([]);
});

it('the test-support patterns match the helpers that exist (so the check above is not vacuous)', () => {
  const support = srcFiles().filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && isTestSupport(f));
  for (const f of [
    'src/aws/testing/sign-headers.ts',
    'src/crypto/wycheproof-vectors.ts',
    'src/engine/testing.ts',
    'src/operator/reencrypt-fake-api.ts',
  ]) {
    expect(support).toContain(f);
  }
});
