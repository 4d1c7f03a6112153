import { describe, expect, it } from 'vitest';
import { isKmsError } from './errors.ts';
import { decodeMarker, encodeMarker, paginate } from './pagination.ts';

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'OK';
  } catch (e) {
    return isKmsError(e) ? e.code : String(e);
  }
};

describe('pagination markers', () => {
  it('round-trip any id, and walk a list page by page', () => {
    for (const id of ['a', 'alias/x', '0000000003', 'tägkey-ключ-🔑', ''.padEnd(256, 'z')]) {
      expect(decodeMarker(encodeMarker(id))).toBe(id);
      expect(encodeMarker(id)).toMatch(/^[\u0020-\u00FF]{1,1024}$/);
    }
    const ids = ['d', 'a', 'c', 'b', 'e'];
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = paginate(ids, (x) => x, 2, marker);
      seen.push(...page.items);
      marker = page.nextMarker;
    } while (marker);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a marker this service did not issue is InvalidMarkerException, never a position in the list', () => {
    for (const junk of [
      'junk',
      'zzzz',
      'a',
      'kk1.',
      'kk1.!!',
      'kk1.A',
      'kk1._w',
      `kk1.${'/'.repeat(8)}`,
      'kk2.YQ',
    ]) {
      expect(`${junk}: ${codeOf(() => paginate(['a', 'b'], (x) => x, 1, junk))}`).toBe(
        `${junk}: InvalidMarkerException`,
      );
    }
  });
});
