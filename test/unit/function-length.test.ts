/** No function over 100 lines in src/ outside tests (issue 15): long setup closures become named steps. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { isChecked, REPO_ROOT, sourceFiles } from './architecture-rules.ts';

const MAX_LINES = 100;
/** Functions still being split elsewhere (`file name`): each must still be too long, so the list only shrinks. */
const KNOWN: readonly string[] = [];

interface LongFunction {
  readonly where: string;
  readonly lines: number;
}

function longFunctions(file: string, source: string): LongFunction[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: LongFunction[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(n.end).line;
      const name = n.name?.getText(sf) ?? `(anonymous at line ${first + 1})`;
      if (last - first + 1 > MAX_LINES) out.push({ where: `${file} ${name}`, lines: last - first + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe(`functions in src/ are at most ${MAX_LINES} lines`, () => {
  const found = sourceFiles(REPO_ROOT)
    .filter(isChecked)
    .flatMap((f) => longFunctions(f, readFileSync(join(REPO_ROOT, f), 'utf8')));

  it('has no new long function', () => {
    expect(found.filter((f) => !KNOWN.includes(f.where)).map((f) => `${f.where}: ${f.lines} lines`)).toEqual(
      [],
    );
  });

  it('lists only known long functions that are still long', () => {
    const names = new Set(found.map((f) => f.where));
    expect(KNOWN.filter((k) => !names.has(k))).toEqual([]);
  });

  it('finds a planted long function, however it is written', () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const x${i} = ${i};`).join('\n');
    expect(longFunctions('src/x.ts', `export function big() {\n${body}\n}`).map((f) => f.where)).toEqual([
      'src/x.ts big',
    ]);
    expect(longFunctions('src/x.ts', `const f = () => {\n${body}\n};`)).toHaveLength(1);
    expect(longFunctions('src/x.ts', `class C {\n  m() {\n${body}\n  }\n}`)).toHaveLength(1);
    expect(longFunctions('src/x.ts', 'export function small() {\n  return 1;\n}')).toEqual([]);
  });
});
