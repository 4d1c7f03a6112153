/**
 * Regenerates kms-model.json from the botocore AWS KMS model (Apache-2.0): the operations and shapes only,
 * with every documentation string removed (the model is used as data, never as prose).
 *
 *   node src/aws/model/generate.ts [path/to/service-2.json]   (default ../shared/aws-kms-model/service-2.json)
 *   npx biome format --write src/aws/model/kms-model.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DROP = new Set(['documentation', 'documentationUrl', 'deprecatedMessage', 'examples']);

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!DROP.has(k)) out[k] = strip(v);
  return out;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const source = process.argv[2] ?? `${here}../../../../shared/aws-kms-model/service-2.json`;
const model = JSON.parse(readFileSync(source, 'utf8')) as Record<string, unknown>;
const out = {
  _source:
    'botocore botocore/data/kms/2014-11-01/service-2.json (commit 0e6e2404), Apache-2.0; documentation removed by src/aws/model/generate.ts',
  metadata: strip(model.metadata),
  operations: strip(model.operations),
  shapes: strip(model.shapes),
};
writeFileSync(`${here}kms-model.json`, `${JSON.stringify(out, null, 2)}\n`);
