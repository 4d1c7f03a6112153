/**
 * Prints one closing line over vitest JSON reports: "tests: N passed, N failed[, N skipped][, N files failed
 * outside a test]". Reports that do not exist (a run that never started) are skipped. Exit status 1 when a test
 * failed or a test file failed outside its tests (an import error, a hook timeout).
 */
import { existsSync, readFileSync } from 'node:fs';

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

let passed = 0;
let failed = 0;
let skipped = 0;
let brokenFiles = 0;
for (const file of process.argv.slice(2).filter((f) => existsSync(f))) {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Report;
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  for (const f of r.testResults) {
    if (f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')) brokenFiles++;
  }
}
const extra = [skipped ? `, ${skipped} skipped` : '', brokenFiles ? `, ${brokenFiles} files failed outside a test` : ''];
process.stdout.write(`tests: ${passed} passed, ${failed} failed${extra.join('')}\n`);
process.exitCode = failed > 0 || brokenFiles > 0 ? 1 : 0;
