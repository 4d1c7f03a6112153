/** The Helm chart's copy of the CRDs (charts/kubekms/files/crds/, rendered as templates) is crds/, byte for byte. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_CRD_DIR, CRD_DIR } from '../../src/api/render-crds.ts';

describe('charts/kubekms/files/crds', () => {
  const names = readdirSync(CRD_DIR).sort();

  it('holds exactly the files of crds/', () => {
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(readdirSync(CHART_CRD_DIR).sort()).toEqual(names);
  });

  it.each(names)('%s is the same as in crds/ (node src/api/render-crds.ts writes both)', (name) => {
    expect(readFileSync(join(CHART_CRD_DIR, name), 'utf8')).toBe(readFileSync(join(CRD_DIR, name), 'utf8'));
  });
});
