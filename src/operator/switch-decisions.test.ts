import { describe, expect, it } from 'vitest';
import { type KeyIdWrite, sha256Label } from '../api/apiserver-writes.ts';
import {
  decideSwitchover,
  everyApiserverSwitched,
  SKEW_MS,
  type SwitchObservation,
  switchoverStatus,
} from './switch-decisions.ts';

const OLD = 'kubekms:0b3c5a9e-0000-4000-8000-000000000001:v1';
const NEW = 'kubekms:0b3c5a9e-0000-4000-8000-000000000001:v2';
const A = sha256Label('apiserver-a');
const B = sha256Label('apiserver-b');
const T = Date.parse('2026-12-02T12:00:00Z');
const w = (apiserver: string, keyId: string, at: number): KeyIdWrite => ({
  apiserver,
  keyIdHash: sha256Label(keyId),
  at,
});

describe('decideSwitchover', () => {
  it.each<[string, SwitchObservation, string, string[]?]>([
    ['one API server, written under the new key_id', { live: [A], writes: [w(A, NEW, T + 5)] }, 'switched'],
    ['one API server, still the old key_id', { live: [A], writes: [w(A, OLD, T + 5)] }, 'waiting', [A]],
    ['no writes seen at all', { live: [A], writes: [] }, 'waiting', [A]],
    [
      'two API servers, one switched',
      { live: [A, B], writes: [w(A, NEW, T + 5), w(B, OLD, T + 9)] },
      'waiting',
      [B],
    ],
    [
      'two API servers, both switched (B seen through a peer)',
      { live: [A, B], writes: [w(A, NEW, T + 5), w(B, OLD, T + 1), w(B, NEW, T + 9)] },
      'switched',
    ],
    [
      'a dead API server (no live Lease) is not waited for',
      { live: [A], writes: [w(A, NEW, T + 5), w(B, OLD, T + 5)] },
      'switched',
    ],
    [
      'a write under the new key_id from before the rotation (beyond the skew) does not count',
      { live: [A], writes: [w(A, NEW, T - SKEW_MS - 1)] },
      'waiting',
      [A],
    ],
    ['metrics unreadable', { error: 'GET /metrics: 403' }, 'unknown'],
    ['no identity Lease', { live: [], writes: [w(A, NEW, T + 5)] }, 'unknown'],
  ])('%s → %s', (_name, o, kind, pending) => {
    const s = decideSwitchover(o, NEW, T);
    expect(s.kind).toBe(kind);
    if (pending) expect(s.kind === 'waiting' && s.pending).toEqual(pending);
  });

  it('records what was seen; only a full switch counts as every API server switched', () => {
    const sw = switchoverStatus(decideSwitchover({ live: [A, B], writes: [w(A, NEW, T)] }, NEW, T));
    expect(sw).toEqual({ apiservers: 2, switched: 1, pending: [B] });
    expect(everyApiserverSwitched(sw)).toBe(false);
    const all = switchoverStatus(decideSwitchover({ live: [A], writes: [w(A, NEW, T)] }, NEW, T));
    expect(all).toEqual({ apiservers: 1, switched: 1 });
    expect(everyApiserverSwitched(all)).toBe(true);
    const none = switchoverStatus(decideSwitchover({ error: 'x' }, NEW, T));
    expect(none).toEqual({ apiservers: 0, switched: 0, unavailable: 'x' });
    expect(everyApiserverSwitched(none)).toBe(false);
    expect(everyApiserverSwitched(undefined)).toBe(false);
  });
});
