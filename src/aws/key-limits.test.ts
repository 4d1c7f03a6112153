/** Issue 16.4: no principal creates keys without bound; the installation has a total key quota. */
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { errorName, type Harness, startHarness } from './testing/harness.ts';

let h: Harness;
afterEach(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
});

const create = (who: 'admin' | 'alice' | 'bob') => errorName(h.client(who).send(new CreateKeyCommand({})));

describe('key creation limits', () => {
  it('a principal past its hourly creations gets LimitExceededException; others and admins go on', async () => {
    h = await startHarness({ keyLimits: { maxKeys: 100, createsPerPrincipalPerHour: 3 } });
    const alice = await Promise.all(Array.from({ length: 6 }, () => create('alice')));
    expect(alice.filter((r) => r === 'OK')).toHaveLength(3);
    expect(alice.filter((r) => r === 'LimitExceededException')).toHaveLength(3);
    expect(await create('bob')).toBe('OK');
    for (let i = 0; i < 5; i++) expect(await create('admin')).toBe('OK');
    expect(h.core.counts().keys).toBe(9);
  });

  it('the total quota holds for everyone, administrators included, even for concurrent calls', async () => {
    h = await startHarness({ keyLimits: { maxKeys: 4, createsPerPrincipalPerHour: 100 } });
    const results = await Promise.all([
      ...Array.from({ length: 4 }, () => create('alice')),
      ...Array.from({ length: 4 }, () => create('admin')),
    ]);
    expect(results.filter((r) => r === 'OK')).toHaveLength(4);
    expect(results.filter((r) => r === 'LimitExceededException')).toHaveLength(4);
    expect(h.core.counts().keys).toBe(4);
    expect(h.seen.filter((s) => s.type === 'LimitExceededException').every((s) => s.status === 400)).toBe(
      true,
    );
  });
});
