/** The committed kms-model.json is exactly what generate.ts makes from the vendored botocore model. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generateModel, readServiceModel, VENDORED_SOURCE } from './generate.ts';

it('kms-model.json is the vendored service-2.json without documentation', () => {
  const committed: unknown = JSON.parse(readFileSync(new URL('./kms-model.json', import.meta.url), 'utf8'));
  const source = readServiceModel(VENDORED_SOURCE);
  expect(Object.keys(source.operations as object)).toHaveLength(54);
  const generated = generateModel(source);
  expect(generated).toEqual(committed);
  expect(JSON.stringify(generated)).not.toContain('"documentation"');
});
