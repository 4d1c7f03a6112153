import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCredentialsFile, parseCredentials } from './credentials.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-creds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const one = {
  accessKeyId: 'AKIAEXAMPLE',
  secretAccessKey: 's3cret',
  principal: 'system:serviceaccount:ns:app',
};

describe('credentials document', () => {
  it('maps access keys to principals (admin and groups optional)', () => {
    const [c] = parseCredentials({ credentials: [{ ...one, admin: true, groups: ['team-a'] }] });
    expect(c!.caller).toEqual({
      kind: 'principal',
      name: 'system:serviceaccount:ns:app',
      groups: ['team-a'],
      admin: true,
    });
    expect(parseCredentials({ credentials: [one] })[0]!.caller.admin).toBe(false);
  });

  it('names the field path of every problem', () => {
    const cases: [unknown, RegExp][] = [
      [[], /must be a JSON object/],
      [{}, /credentials: must be a list/],
      [{ credentials: [1] }, /credentials\[0\]: must be an object/],
      [{ credentials: [{ ...one, accessKeyId: '' }] }, /credentials\[0\]\.accessKeyId/],
      [{ credentials: [{ ...one, secretAccessKey: 5 }] }, /credentials\[0\]\.secretAccessKey/],
      [{ credentials: [{ ...one, principal: 'has space' }] }, /credentials\[0\]\.principal/],
      [{ credentials: [{ ...one, admin: 'yes' }] }, /credentials\[0\]\.admin/],
      [{ credentials: [{ ...one, groups: [1] }] }, /credentials\[0\]\.groups\[0\]/],
      [{ credentials: [{ ...one, secret: 'x' }] }, /credentials\[0\]\.secret: unknown field/],
      [{ credentials: [one, one] }, /credentials\[1\]\.accessKeyId: duplicate/],
    ];
    for (const [doc, re] of cases) expect(() => parseCredentials(doc)).toThrow(re);
  });

  it('refuses a file that group or others may read, and bad JSON', async () => {
    const f = join(dir, 'creds.json');
    await writeFile(f, JSON.stringify({ credentials: [one] }));
    await chmod(f, 0o644);
    await expect(loadCredentialsFile(f)).rejects.toThrow(/mode 0644.*chmod 0600/);
    await chmod(f, 0o600);
    expect(await loadCredentialsFile(f)).toHaveLength(1);
    await writeFile(f, '{oops');
    await expect(loadCredentialsFile(f)).rejects.toThrow(/not valid JSON/);
    await expect(loadCredentialsFile(join(dir, 'none.json'))).rejects.toThrow(/cannot read/);
  });
});
