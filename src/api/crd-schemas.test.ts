import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KEY_SPECS, USAGES_BY_SPEC } from '../engine/specs.ts';
import { CRDS, KMS_KEY_CRD } from './crd-schemas.ts';
import { toYaml } from './crd-yaml.ts';
import { CRD_DIR, renderCrd } from './render-crds.ts';

describe('CRD manifests', () => {
  it.each(Object.keys(CRDS) as (keyof typeof CRDS)[])(
    'crds/kubekms.io_%s.yaml is current (node src/api/render-crds.ts)',
    (name) => {
      expect(readFileSync(join(CRD_DIR, `kubekms.io_${name}.yaml`), 'utf8')).toBe(renderCrd(name));
    },
  );

  it.each(Object.keys(CRDS) as (keyof typeof CRDS)[])(
    'the YAML of %s parses back to the same data',
    (name) => {
      // Without apiVersion/kind the client's loader returns plain data instead of its model classes.
      const { apiVersion: _a, kind: _k, ...rest } = CRDS[name];
      expect(loadYaml(toYaml(rest))).toEqual(rest);
    },
  );

  it('the keySpec/keyUsage CEL table is the engine table', () => {
    const spec = (
      KMS_KEY_CRD as {
        spec: {
          versions: {
            schema: {
              openAPIV3Schema: { properties: { spec: { 'x-kubernetes-validations': { rule: string }[] } } };
            };
          }[];
        };
      }
    ).spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
    const rule = spec['x-kubernetes-validations'][0]!.rule;
    for (const s of KEY_SPECS)
      expect(rule).toContain(`'${s}': [${USAGES_BY_SPEC[s].map((u) => `'${u}'`).join(', ')}]`);
  });

  it('quotes scalars YAML would misread', () => {
    expect(toYaml({ a: 'yes', b: '1', c: 'x: y', d: 'plain text', e: [], f: {}, g: [{ h: 1 }] })).toBe(
      'a: "yes"\nb: "1"\nc: "x: y"\nd: plain text\ne: []\nf: {}\ng:\n- h: 1\n',
    );
  });
});
