import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KeyRecord } from '../engine/records.ts';
import { registerKeyMetrics } from './key-metrics.ts';

const DAY = 86_400_000;
const NOW = 1_000 * DAY;

function key(id: string, o: Partial<KeyRecord> & { primaryAgeDays?: number } = {}): { record: KeyRecord } {
  const created = NOW - (o.primaryAgeDays ?? 1) * DAY;
  const record = {
    keyId: id,
    createdAt: created,
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    keyManager: 'CUSTOMER',
    state: 'Enabled',
    rotation: { enabled: false, periodDays: 365 },
    versions: [{ version: 1, createdAt: created, wrappedMaterial: new Uint8Array() }],
    primaryVersion: 1,
    tags: {},
    revision: 1,
    ...o,
  } as KeyRecord;
  return { record };
}

async function scrape(keys: { record: KeyRecord }[]): Promise<string> {
  const registry = new Registry();
  registerKeyMetrics(
    registry,
    () => keys,
    () => NOW,
  );
  return registry.metrics();
}

describe('key metrics', () => {
  it('counts keys by state and spec, computed at scrape time', async () => {
    const keys = [
      key('a'),
      key('b'),
      key('c', { state: 'Disabled' }),
      key('d', { state: 'PendingDeletion', keySpec: 'RSA_2048' }),
    ];
    const registry = new Registry();
    registerKeyMetrics(
      registry,
      () => keys,
      () => NOW,
    );
    const text = await registry.metrics();
    expect(text).toContain('kubekms_keys{state="Enabled",spec="SYMMETRIC_DEFAULT"} 2');
    expect(text).toContain('kubekms_keys{state="Disabled",spec="SYMMETRIC_DEFAULT"} 1');
    expect(text).toContain('kubekms_keys{state="PendingDeletion",spec="RSA_2048"} 1');
    keys.pop();
    // The same registry, scraped again: the gauge is recomputed, not accumulated.
    const again = await registry.metrics();
    expect(again).not.toContain('state="PendingDeletion"');
    expect(again).toContain('kubekms_keys{state="Enabled",spec="SYMMETRIC_DEFAULT"} 2');
  });

  it('reports the oldest primary version and the earliest rotation per key manager, rotating enabled keys only', async () => {
    const rot = (days: number) => ({ enabled: true, periodDays: 365, nextRotationAt: NOW + days * DAY });
    const text = await scrape([
      key('cluster', { keyManager: 'CLUSTER', primaryAgeDays: 300, rotation: rot(65) }),
      key('c1', { primaryAgeDays: 100, rotation: rot(-2) }),
      key('c2', { primaryAgeDays: 200, rotation: rot(165) }),
      key('not-rotating', { primaryAgeDays: 900 }),
      key('disabled', { state: 'Disabled', primaryAgeDays: 800, rotation: rot(-100) }),
    ]);
    expect(text).toContain(`kubekms_key_primary_version_age_seconds{manager="CLUSTER"} ${300 * 86_400}`);
    expect(text).toContain(`kubekms_key_primary_version_age_seconds{manager="CUSTOMER"} ${200 * 86_400}`);
    expect(text).toContain(
      `kubekms_key_next_rotation_timestamp_seconds{manager="CUSTOMER"} ${(NOW - 2 * DAY) / 1000}`,
    );
    expect(text).toContain(
      `kubekms_key_next_rotation_timestamp_seconds{manager="CLUSTER"} ${(NOW + 65 * DAY) / 1000}`,
    );
    expect(text).not.toMatch(/key_id|c1|cluster"/);
  });
});
