/**
 * Regenerates kms-model.json from the botocore AWS KMS model (Apache-2.0): the operations and shapes only,
 * with every documentation string removed (the model is used as data, never as prose).
 *
 *   node src/aws/model/generate.ts [path/to/service-2.json[.gz]]   (default: the vendored source/service-2.json.gz)
 *   npx biome format --write src/aws/model/kms-model.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const DROP = new Set(['documentation', 'documentationUrl', 'deprecatedMessage', 'examples']);
const here = fileURLToPath(new URL('.', import.meta.url));
export const VENDORED_SOURCE = `${here}source/service-2.json.gz`;

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!DROP.has(k)) out[k] = strip(v);
  return out;
}

/** Reads a service-2.json, gzip-compressed when the name ends in .gz. */
export function readServiceModel(path: string): Record<string, unknown> {
  const raw = readFileSync(path);
  return JSON.parse((path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** kms-model.json's content for a botocore service model. */
export function generateModel(model: Record<string, unknown>): Record<string, unknown> {
  return {
    _source:
      'botocore botocore/data/kms/2014-11-01/service-2.json (commit 0e6e2404), Apache-2.0; documentation removed by src/aws/model/generate.ts',
    metadata: strip(model.metadata),
    operations: strip(model.operations),
    shapes: strip(model.shapes),
  };
}

if (import.meta.main) {
  const out = generateModel(readServiceModel(process.argv[2] ?? VENDORED_SOURCE));
  writeFileSync(`${here}kms-model.json`, `${JSON.stringify(out, null, 2)}\n`);
}
