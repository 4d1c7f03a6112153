/**
 * The shared records check: every KmsStateRecord in the namespace decodes and is authenticated under this root
 * key (docs/adr/0013-authenticated-records.md), i.e. was written by a kubekms holding the root key, not edited
 * through the API by someone else. Reads only; the ring's own key is never written anywhere.
 */

import type { KmsStateRecord } from '../api/kinds.ts';
import { fromObject, UnauthenticatedRecordError } from '../api/state-records.ts';
import type { RootKey } from '../engine/ports.ts';
import { RecordAuthRing } from '../keystore/record-auth-ring.ts';
import { type CheckRow, row } from './report.ts';

const SHOWN = 3;

export async function stateRecordsRow(
  items: readonly KmsStateRecord[],
  rootKey: RootKey,
  namespace: string,
): Promise<CheckRow> {
  const ring = await RecordAuthRing.create(rootKey, 'refuse');
  await ring.learn(items.map((o) => o.spec?.auth));
  const refused: string[] = [];
  const legacy: string[] = [];
  for (const o of items) {
    try {
      fromObject(o, ring);
    } catch (e) {
      if (e instanceof UnauthenticatedRecordError && o.spec?.auth === undefined) legacy.push(o.metadata.name);
      else refused.push(e instanceof Error ? e.message : String(e));
    }
  }
  const n = `${items.length} KmsStateRecord${items.length === 1 ? '' : 's'} in ${namespace}`;
  if (refused.length === 0 && legacy.length > 0)
    return row(
      'shared records',
      'warn',
      `${legacy.length} of ${n} have no spec.auth (written before ADR 0013, not authenticated): ` +
        `${legacy.slice(0, SHOWN).join(', ')}${legacy.length > SHOWN ? ', …' : ''}`,
    );
  if (refused.length === 0)
    return row('shared records', 'ok', `${n}, every one written by a root key holder`);
  const more = refused.length > SHOWN ? `; and ${refused.length - SHOWN} more` : '';
  return row(
    'shared records',
    'FAIL',
    `${refused.length} of ${n} refused: ${refused.slice(0, SHOWN).join('; ')}${more}`,
  );
}
