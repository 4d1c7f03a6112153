/** Issue 16.6: every paginated operation refuses a Marker it did not issue (400 InvalidMarkerException, as AWS). */
import {
  CreateKeyCommand,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ListRetirableGrantsCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS, errorName, type Harness, startHarness } from './testing/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
});

describe('pagination through the AWS API', () => {
  it('walks every key with the markers it hands out', async () => {
    const admin = h.client();
    for (let i = 0; i < 5; i++) await admin.send(new CreateKeyCommand({}));
    const ids: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await admin.send(new ListKeysCommand({ Limit: 2, ...(Marker ? { Marker } : {}) }));
      ids.push(...(page.Keys ?? []).map((k) => k.KeyId!));
      Marker = page.NextMarker;
    } while (Marker);
    expect(new Set(ids).size).toBe(5);
  });

  it('a junk Marker is 400 InvalidMarkerException on every paginated operation', async () => {
    const admin = h.client();
    const KeyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const Marker = 'junk';
    const calls: [string, Promise<unknown>][] = [
      ['ListKeys', admin.send(new ListKeysCommand({ Marker }))],
      ['ListAliases', admin.send(new ListAliasesCommand({ Marker }))],
      ['ListGrants', admin.send(new ListGrantsCommand({ KeyId, Marker }))],
      ['ListResourceTags', admin.send(new ListResourceTagsCommand({ KeyId, Marker }))],
      ['ListKeyRotations', admin.send(new ListKeyRotationsCommand({ KeyId, Marker }))],
      [
        'ListRetirableGrants',
        admin.send(
          new ListRetirableGrantsCommand({ RetiringPrincipal: CREDENTIALS.alice.caller.name, Marker }),
        ),
      ],
    ];
    for (const [op, p] of calls) expect(`${op} ${await errorName(p)}`).toBe(`${op} InvalidMarkerException`);
    expect(h.seen.filter((s) => s.type === 'InvalidMarkerException').every((s) => s.status === 400)).toBe(
      true,
    );
  });
});
