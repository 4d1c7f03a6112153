/** Writes crds/*.yaml and the chart's copy (charts/kubekms/files/crds/) from crd-schemas.ts: `node src/api/render-crds.ts`. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRDS } from './crd-schemas.ts';
import { toYaml } from './crd-yaml.ts';

export const CRD_DIR = join(import.meta.dirname, '..', '..', 'crds');
/** The Helm chart renders its CRDs from this copy of crds/ (a chart cannot read files outside itself). */
export const CHART_CRD_DIR = join(import.meta.dirname, '..', '..', 'charts', 'kubekms', 'files', 'crds');
export const HEADER = '# Generated from src/api/crd-schemas.ts by src/api/render-crds.ts. Do not edit.\n';

export function renderCrd(name: keyof typeof CRDS): string {
  return HEADER + toYaml(CRDS[name]);
}

if (import.meta.main) {
  for (const name of Object.keys(CRDS) as (keyof typeof CRDS)[]) {
    for (const dir of [CRD_DIR, CHART_CRD_DIR])
      writeFileSync(join(dir, `kubekms.io_${name}.yaml`), renderCrd(name));
  }
}
