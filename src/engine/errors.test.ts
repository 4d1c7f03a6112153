// Tests of the error vocabulary: every code has a kind and a row in docs/errors.md that states the same kind.
import { describe, expect, it } from 'vitest';
import { docTable } from '../../test/doc-tables.ts';
import { ERROR_CODES, ERROR_KIND, KmsError } from './errors.ts';

describe('error vocabulary', () => {
  it('documents every code in docs/errors.md with its kind, and nothing else', () => {
    const rows = docTable('errors.md', 'Codes');
    for (const code of ERROR_CODES) {
      expect(rows.get(code), `${code} has a row in docs/errors.md`).toBeDefined();
      expect(rows.get(code)?.[0], `${code}'s kind in docs/errors.md`).toBe(ERROR_KIND[code]);
    }
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('gives each error the kind of its code', () => {
    expect(new KmsError('DisabledException', 'x').kind).toBe('conflict');
    expect(new KmsError('ValidationException', 'x', 'f').kind).toBe('user');
    expect(new KmsError('DependencyTimeoutException', 'x').kind).toBe('unavailable');
    expect(new KmsError('KMSInternalException', 'x').kind).toBe('internal');
  });
});
