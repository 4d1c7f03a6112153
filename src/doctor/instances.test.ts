import { describe, expect, it } from 'vitest';
import { type InstanceHeartbeat, readHeartbeat } from '../api/heartbeat-format.ts';
import { ago, compareInstances, rootMarkerRows } from './instances.ts';

const NOW = Date.parse('2026-11-29T18:00:00Z');
const K1 = '11111111-1111-4111-8111-111111111111';
const K2 = '22222222-2222-4222-8222-222222222222';

function hb(
  instance: string,
  o: {
    keyId?: string;
    held?: Record<string, number>;
    ageMs?: number;
    rootKey?: string;
    nextRootKey?: string;
  } = {},
): InstanceHeartbeat {
  return {
    instance,
    renewedAt: NOW - (o.ageMs ?? 1_000),
    durationMs: 30_000,
    held: o.held ?? { [K1]: 2 },
    keyId: o.keyId ?? `kubekms:${K1}:v2`,
    rootKey: o.rootKey ?? '',
    nextRootKey: o.nextRootKey ?? '',
  };
}

const show = (hs: InstanceHeartbeat[]) =>
  compareInstances(hs, NOW, 'kubekms').map((r) => `${r.check} | ${r.status} | ${r.detail}`);

describe('compareInstances', () => {
  it('skips, naming the namespace and label, when there is no heartbeat Lease', () => {
    expect(show([])).toEqual([
      'instances | skip | no heartbeat Leases (label kubekms.io/role=instance) in namespace kubekms: no instance shares key state through the API here',
    ]);
  });

  it('is ok with a row per instance when the live instances agree', () => {
    expect(
      show([hb('node-b', { held: { [K2]: 1, [K1]: 2 } }), hb('node-a', { held: { [K1]: 2, [K2]: 1 } })]),
    ).toEqual([
      `instance node-a | ok | live, key_id kubekms:${K1}:v2, holds ${K1}:v2, ${K2}:v1`,
      `instance node-b | ok | live, key_id kubekms:${K1}:v2, holds ${K1}:v2, ${K2}:v1`,
      `instances | ok | 2 live instances agree: key_id kubekms:${K1}:v2, same highest version of 2 keys`,
    ]);
  });

  it('FAILs naming the instances when live instances report different key_ids', () => {
    const rows = show([hb('node-a'), hb('node-b', { keyId: `kubekms:${K2}:v1` }), hb('node-c')]);
    expect(rows).toContain(
      `instances: key_id | FAIL | live instances report different key_ids: node-a, node-c → kubekms:${K1}:v2; node-b → kubekms:${K2}:v1`,
    );
    expect(rows.filter((r) => r.includes('| ok |'))).toHaveLength(3);
  });

  it('shows the root key each live instance holds, and FAILs naming them when they differ', () => {
    const same = show([
      hb('node-a', { rootKey: 'file:3f2a9c0e5b7d1486' }),
      hb('node-b', { rootKey: 'file:3f2a9c0e5b7d1486' }),
    ]);
    expect(same[0]).toBe(
      `instance node-a | ok | live, key_id kubekms:${K1}:v2, holds ${K1}:v2, root key file:3f2a9c0e5b7d1486`,
    );
    expect(same[2]).toMatch(/^instances \| ok \| 2 live instances agree/);
    const rows = show([
      hb('node-a', { rootKey: 'file:3f2a9c0e5b7d1486' }),
      hb('node-b', { rootKey: 'pkcs11:0123456789abcdef' }),
      hb('node-c'),
    ]);
    expect(rows).toContain(
      'instances: root key | FAIL | live instances hold different root keys: node-a → file:3f2a9c0e5b7d1486; node-b → pkcs11:0123456789abcdef',
    );
    // An expired Lease's root key does not count.
    expect(
      show([hb('node-a', { rootKey: 'file:a' }), hb('node-b', { rootKey: 'file:b', ageMs: 60_000 })]).at(-1),
    ).toMatch(/^instances \| ok \|/);
  });

  it("shows each instance's staged root key, and whether every live instance holds it (HA root-key rotation)", () => {
    const partly = show([
      hb('node-a', { rootKey: 'file:old', nextRootKey: 'file:new' }),
      hb('node-b', { rootKey: 'file:old' }),
    ]);
    expect(partly[0]).toBe(
      `instance node-a | ok | live, key_id kubekms:${K1}:v2, holds ${K1}:v2, root key file:old, staged root key file:new`,
    );
    expect(partly).toContain(
      'instances: staged root key | warn | file:new staged on some instances; not held by node-b',
    );
    expect(partly.at(-1)).toMatch(/^instances \| ok \|/);
    const all = show([
      hb('node-a', { rootKey: 'file:old', nextRootKey: 'file:new' }),
      hb('node-b', { rootKey: 'file:old', nextRootKey: 'file:new' }),
    ]);
    expect(all).toContain(
      'instances: staged root key | ok | every live instance holds file:new staged: kubekms rootkey rotate may move the records',
    );
  });

  it('FAILs saying a root-key rotation is half done when some live instances switched and the others hold the new root staged', () => {
    const rows = show([
      hb('node-a', { rootKey: 'file:new' }),
      hb('node-b', { rootKey: 'file:old', nextRootKey: 'file:new' }),
    ]);
    expect(rows).toContain(
      'instances: root key | FAIL | a root-key rotation to file:new is half done: switched node-a; not yet node-b (every live instance holds both roots; run kubekms rootkey rotate again to finish)',
    );
  });

  it('reads the root marker: FAIL while records move (a rotation cut short), ok once done, nothing without one', () => {
    expect(rootMarkerRows(undefined)).toEqual([]);
    expect(
      rootMarkerRows({ 'kubekms.io/root-key': 'file:new', 'kubekms.io/root-rotation': 'moving' }).map(
        (r) => `${r.check} | ${r.status} | ${r.detail}`,
      ),
    ).toEqual([
      'root-key rotation | FAIL | a root-key rotation to file:new is half done: records may still be under the old root (every instance reads both meanwhile); run kubekms rootkey rotate again to finish',
    ]);
    expect(rootMarkerRows({ 'kubekms.io/root-key': 'file:new', 'kubekms.io/root-rotation': 'done' })).toEqual(
      [{ check: 'root-key rotation', status: 'ok', detail: 'every KmsStateRecord moved to file:new' }],
    );
  });

  it('FAILs naming the instance and key when live instances hold different highest versions', () => {
    const rows = show([
      hb('node-a', { held: { [K1]: 3 } }),
      hb('node-b', { held: { [K1]: 2 } }),
      hb('node-c', { held: {} }),
    ]);
    expect(rows).toContain(
      `instances: key ${K1} | FAIL | node-a holds v3; node-b holds v2, node-c does not hold the key`,
    );
  });

  it('warns for an expired Lease and leaves that instance out of the comparison', () => {
    const rows = show([
      hb('node-a'),
      hb('node-b', { keyId: 'kubekms:old:v1', held: { [K1]: 1 }, ageMs: 95_000 }),
    ]);
    expect(rows).toEqual([
      `instance node-a | ok | live, key_id kubekms:${K1}:v2, holds ${K1}:v2`,
      `instance node-b | warn | Lease expired 65s ago (instance down?), key_id kubekms:old:v1, holds ${K1}:v1`,
      `instances | ok | 1 live instance agree: key_id kubekms:${K1}:v2, same highest version of 1 key`,
    ]);
  });

  it('warns when every Lease has expired, and treats a never-renewed Lease as expired', () => {
    const never: InstanceHeartbeat = { ...hb('node-z'), renewedAt: undefined };
    expect(show([never])).toEqual([
      `instance node-z | warn | Lease never renewed (instance down?), key_id kubekms:${K1}:v2, holds ${K1}:v2`,
      'instances | warn | no live instance: every heartbeat Lease has expired',
    ]);
  });

  it('ignores instances that serve no plugin when comparing key_ids', () => {
    const rows = show([hb('node-a'), hb('op-1', { keyId: '' })]);
    expect(rows[1]).toBe(`instance op-1 | ok | live, no plugin, holds ${K1}:v2`);
    expect(rows[2]).toMatch(/^instances \| ok \| 2 live instances agree/);
  });

  it('reads real Lease objects, a malformed held-versions annotation as "holds nothing"', () => {
    const lease = (name: string, held: string) =>
      readHeartbeat({
        metadata: {
          name: `kubekms-instance-${name}`,
          annotations: {
            'kubekms.io/held-versions': held,
            'kubekms.io/key-id': `kubekms:${K1}:v2`,
            'kubekms.io/root-key': 'file:3f2a9c0e5b7d1486',
          },
        },
        spec: {
          holderIdentity: name,
          leaseDurationSeconds: 30,
          renewTime: new Date(NOW - 2_000).toISOString(),
        },
      });
    const rows = show([lease('a', JSON.stringify({ [K1]: 2 })), lease('b', '{not json')]);
    expect(rows).toContain(
      `instance b | ok | live, key_id kubekms:${K1}:v2, holds no key versions, root key file:3f2a9c0e5b7d1486`,
    );
    expect(rows).toContain(`instances: key ${K1} | FAIL | a holds v2; b does not hold the key`);
  });
});

describe('ago', () => {
  it.each([
    [0, '0s'],
    [65_000, '65s'],
    [119_400, '119s'],
    [720_000, '12m'],
    [5 * 3_600_000, '5h'],
    [332 * 86_400_000, '332d'],
  ])('%i ms → %s', (ms, text) => {
    expect(ago(ms)).toBe(text);
  });
});
