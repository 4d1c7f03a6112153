/**
 * The instances check: a row per heartbeat Lease (docs/adr/0009-shared-key-state.md), then whether the live
 * instances agree — the same `key_id` from every plugin, the same root key, the same highest version of every
 * key. Pure.
 */
import {
  type InstanceHeartbeat,
  isLive,
  ROOT_KEY_ANNOTATION,
  ROOT_ROTATION_ANNOTATION,
} from '../api/heartbeat-format.ts';
import { type CheckRow, row } from './report.ts';

/** 65s, 12m, 5h, 332d: how long ago, roughly. */
export function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function describeHeld(h: InstanceHeartbeat): string {
  const entries = Object.entries(h.held).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return 'holds no key versions';
  return `holds ${entries.map(([k, v]) => `${k}:v${v}`).join(', ')}`;
}

/**
 * Rows for the instances named by `namespace`'s heartbeat Leases: `instance <name>` ok (live) or warn (its Lease
 * expired), then `instances` ok when the live ones agree, FAIL naming the instances and key where they differ.
 */
export function compareInstances(
  heartbeats: readonly InstanceHeartbeat[],
  now: number,
  namespace: string,
): CheckRow[] {
  if (heartbeats.length === 0)
    return [
      row(
        'instances',
        'skip',
        `no heartbeat Leases (label kubekms.io/role=instance) in namespace ${namespace}: no instance shares key state through the API here`,
      ),
    ];
  const sorted = [...heartbeats].sort((a, b) => a.instance.localeCompare(b.instance));
  const rows: CheckRow[] = [];
  const live: InstanceHeartbeat[] = [];
  for (const h of sorted) {
    const keyId = h.keyId === '' ? 'no plugin' : `key_id ${h.keyId}`;
    if (isLive(h, now)) {
      live.push(h);
      const root =
        (h.rootKey === '' ? '' : `, root key ${h.rootKey}`) +
        (h.nextRootKey === '' ? '' : `, staged root key ${h.nextRootKey}`);
      rows.push(row(`instance ${h.instance}`, 'ok', `live, ${keyId}, ${describeHeld(h)}${root}`));
    } else {
      const when =
        h.renewedAt === undefined
          ? 'never renewed'
          : `expired ${ago(now - (h.renewedAt + h.durationMs))} ago`;
      rows.push(
        row(`instance ${h.instance}`, 'warn', `Lease ${when} (instance down?), ${keyId}, ${describeHeld(h)}`),
      );
    }
  }
  rows.push(...agreement(live));
  return rows;
}

/** The live instances by the value `pick` reads from each; those that say nothing ('') are left out. */
function instancesBy(
  live: readonly InstanceHeartbeat[],
  pick: (h: InstanceHeartbeat) => string,
): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const h of live) {
    const value = pick(h);
    if (value !== '') by.set(value, [...(by.get(value) ?? []), h.instance]);
  }
  return by;
}

/** A FAIL row `check` naming which instances say which value, when they say more than one. */
function disagreement(by: ReadonlyMap<string, string[]>, check: string, what: string): CheckRow[] {
  if (by.size <= 1) return [];
  const who = [...by].map(([value, names]) => `${names.join(', ')} → ${value}`).join('; ');
  return [row(check, 'FAIL', `live instances ${what}: ${who}`)];
}

/**
 * The root-key rows (docs/adr/0026): FAIL when live instances wrap under different root keys — a rotation half
 * done when one of those roots is held by every live instance (current or staged) — and a row for a staged root:
 * ok when every live instance holds it (the rotation may run), warn naming those that do not.
 */
export function rootKeyRows(live: readonly InstanceHeartbeat[]): CheckRow[] {
  const by = instancesBy(live, (h) => h.rootKey);
  if (by.size > 1) {
    const target = [...by.keys()].find((r) => live.every((h) => h.rootKey === r || h.nextRootKey === r));
    if (target === undefined) return disagreement(by, 'instances: root key', 'hold different root keys');
    const done = live.filter((h) => h.rootKey === target).map((h) => h.instance);
    const todo = live.filter((h) => h.rootKey !== target).map((h) => h.instance);
    return [
      row(
        'instances: root key',
        'FAIL',
        `a root-key rotation to ${target} is half done: switched ${done.join(', ')}; not yet ${todo.join(', ')} ` +
          '(every live instance holds both roots; run kubekms rootkey rotate again to finish)',
      ),
    ];
  }
  const staged = [...new Set(live.map((h) => h.nextRootKey).filter((r) => r !== ''))];
  return staged.map((r) => {
    const lacking = live.filter((h) => h.nextRootKey !== r && h.rootKey !== r).map((h) => h.instance);
    return lacking.length === 0
      ? row(
          'instances: staged root key',
          'ok',
          `every live instance holds ${r} staged: kubekms rootkey rotate may move the records`,
        )
      : row(
          'instances: staged root key',
          'warn',
          `${r} staged on some instances; not held by ${lacking.join(', ')}`,
        );
  });
}

/**
 * The root marker of an HA root-key rotation (docs/adr/0026), from its annotations: FAIL while records are still
 * moving (a rotation cut short, or still running), ok once they all moved; none without a marker.
 */
export function rootMarkerRows(annotations: Readonly<Record<string, string>> | undefined): CheckRow[] {
  const root = annotations?.[ROOT_KEY_ANNOTATION];
  if (root === undefined || root === '') return [];
  if (annotations?.[ROOT_ROTATION_ANNOTATION] === 'done')
    return [row('root-key rotation', 'ok', `every KmsStateRecord moved to ${root}`)];
  return [
    row(
      'root-key rotation',
      'FAIL',
      `a root-key rotation to ${root} is half done: records may still be under the old root ` +
        '(every instance reads both meanwhile); run kubekms rootkey rotate again to finish',
    ),
  ];
}

/** FAIL rows for every disagreement among the live instances; one ok row when there is none. */
export function agreement(live: readonly InstanceHeartbeat[]): CheckRow[] {
  if (live.length === 0)
    return [row('instances', 'warn', 'no live instance: every heartbeat Lease has expired')];
  // key_id: every live instance that serves a plugin must report the same one.
  const byKeyId = instancesBy(live, (h) => h.keyId);
  const problems: CheckRow[] = [
    ...disagreement(byKeyId, 'instances: key_id', 'report different key_ids'),
    // Root of trust: every live instance that says which root key it holds must hold the same one (docs/ha.md),
    // except half-way through a two-phase root-key rotation (docs/adr/0026), which is said as such.
    ...rootKeyRows(live),
  ];
  // Held versions: every live instance must hold the same highest version of every key any of them holds.
  const keys = [...new Set(live.flatMap((h) => Object.keys(h.held)))].sort();
  for (const key of keys) {
    const highest = Math.max(...live.map((h) => h.held[key] ?? 0));
    const behind = live.filter((h) => (h.held[key] ?? 0) < highest);
    if (behind.length === 0) continue;
    const ahead = live.filter((h) => (h.held[key] ?? 0) === highest).map((h) => h.instance);
    problems.push(
      row(
        `instances: key ${key}`,
        'FAIL',
        `${ahead.join(', ')} hold${ahead.length === 1 ? 's' : ''} v${highest}; ${behind
          .map(
            (h) =>
              `${h.instance} ${h.held[key] === undefined ? 'does not hold the key' : `holds v${h.held[key]}`}`,
          )
          .join(', ')}`,
      ),
    );
  }
  if (problems.some((p) => p.status === 'FAIL')) return problems;
  const keyIds = [...byKeyId.keys()];
  return [
    ...problems,
    row(
      'instances',
      'ok',
      `${live.length} live instance${live.length === 1 ? '' : 's'} agree: ${
        keyIds.length === 1 ? `key_id ${keyIds[0]}` : 'no plugin key_id reported'
      }, same highest version of ${keys.length} key${keys.length === 1 ? '' : 's'}`,
    ),
  ];
}
