/** Writes crds/*.yaml from crd-schemas.ts: `node src/api/render-crds.ts`. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRDS } from './crd-schemas.ts';
import { toYaml } from './crd-yaml.ts';

export const CRD_DIR = join(import.meta.dirname, '..', '..', 'crds');
export const HEADER = '# Generated from src/api/crd-schemas.ts by src/api/render-crds.ts. Do not edit.\n';

export function renderCrd(name: keyof typeof CRDS): string {
  return HEADER + toYaml(CRDS[name]);
}

if (import.meta.main) {
  for (const name of Object.keys(CRDS) as (keyof typeof CRDS)[]) {
    writeFileSync(join(CRD_DIR, `kubekms.io_${name}.yaml`), renderCrd(name));
  }
}
