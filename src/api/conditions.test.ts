import { describe, expect, it } from 'vitest';
import { type Condition, conditionChanged, setCondition } from './conditions.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-02T00:00:00Z';
const ready = (status: Condition['status'], reason: string, gen = 1) => ({
  type: 'Ready',
  status,
  reason,
  message: reason,
  observedGeneration: gen,
});

describe('setCondition', () => {
  it.each([
    ['new condition', undefined, ready('True', 'KeyEnabled'), T1],
    [
      'same status, new reason keeps the time',
      [{ ...ready('True', 'A'), lastTransitionTime: T0 }],
      ready('True', 'B', 2),
      T0,
    ],
    [
      'status flip moves the time',
      [{ ...ready('True', 'A'), lastTransitionTime: T0 }],
      ready('False', 'KeyDisabled'),
      T1,
    ],
  ] as const)('%s', (_name, before, next, want) => {
    const out = setCondition(before as Condition[] | undefined, next, T1);
    expect(out).toHaveLength(1);
    expect(out[0]!.lastTransitionTime).toBe(want);
    expect(out[0]!.reason).toBe(next.reason);
    expect(out[0]!.observedGeneration).toBe(next.observedGeneration);
  });

  it('keeps other types and sorts by type', () => {
    const out = setCondition(
      [{ ...ready('True', 'A'), type: 'Zeta', lastTransitionTime: T0 }],
      ready('True', 'A'),
      T1,
    );
    expect(out.map((c) => c.type)).toEqual(['Ready', 'Zeta']);
  });

  it('conditionChanged: status or reason moved', () => {
    const a = setCondition(undefined, ready('True', 'A'), T0);
    expect(conditionChanged(a, setCondition(a, ready('True', 'A', 3), T1), 'Ready')).toBe(false);
    expect(conditionChanged(a, setCondition(a, ready('True', 'B'), T1), 'Ready')).toBe(true);
    expect(conditionChanged(undefined, a, 'Ready')).toBe(true);
  });
});
