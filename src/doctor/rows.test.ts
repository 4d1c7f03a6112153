import { describe, expect, it } from 'vitest';
import type { StatusAnswer } from './kms-status.ts';
import { apiRow, keystoreRow, rootKeyRow, type SocketFinding, socketRow } from './rows.ts';

const P = '/run/kubekms/kms.sock';
const healthy = { version: 'v2', healthz: 'ok', keyId: 'kubekms:abc:v1' };
const found = (mode: number, status: StatusAnswer | string): SocketFinding => ({
  kind: 'found',
  path: P,
  isSocket: true,
  mode,
  status,
});

describe('socketRow', () => {
  it.each<[string, SocketFinding, string, RegExp]>([
    ['disabled', { kind: 'disabled' }, 'skip', /--kms-socket is empty/],
    [
      'missing',
      { kind: 'missing', path: P },
      'FAIL',
      /^no socket at \/run\/kubekms\/kms\.sock \(is kubekms serve running/,
    ],
    ['unreadable', { kind: 'unreadable', path: P, error: 'EACCES' }, 'FAIL', /cannot stat .*EACCES/],
    [
      'a regular file',
      { kind: 'found', path: P, isSocket: false, mode: 0o600, status: 'x' },
      'FAIL',
      /is not a unix socket/,
    ],
    ['world-accessible', found(0o666, healthy), 'FAIL', /mode 0666: every local user can ask it to decrypt/],
    ['world-executable only', found(0o601, healthy), 'FAIL', /mode 0601/],
    [
      'healthy 0600',
      found(0o600, healthy),
      'ok',
      /^\/run\/kubekms\/kms\.sock \(mode 0600\): version v2, healthz ok, key_id kubekms:abc:v1$/,
    ],
    ['healthy 0660 (group)', found(0o660, healthy), 'ok', /mode 0660/],
    [
      'Status error',
      found(0o600, '14 UNAVAILABLE: No connection established'),
      'FAIL',
      /Status failed: 14 UNAVAILABLE/,
    ],
    [
      'unhealthy',
      found(0o600, { ...healthy, healthz: 'root key unreachable' }),
      'FAIL',
      /kube-apiserver would refuse: healthz "root key unreachable"/,
    ],
    ['v1 version', found(0o600, { ...healthy, version: 'v1' }), 'FAIL', /version "v1" is not v2/],
    ['empty key_id', found(0o600, { ...healthy, keyId: '' }), 'FAIL', /empty key_id/],
    [
      'huge key_id',
      found(0o600, { ...healthy, keyId: 'k'.repeat(1025) }),
      'FAIL',
      /key_id longer than 1 KiB/,
    ],
  ])('%s', (_what, finding, status, detail) => {
    const r = socketRow(finding);
    expect(r.check).toBe('socket');
    expect(r.status).toBe(status);
    expect(r.detail).toMatch(detail);
  });
});

describe('rootKeyRow', () => {
  it.each([
    [{ kind: 'error', error: 'rootkey: cannot read root key file /k: ENOENT' } as const, 'FAIL', /ENOENT/],
    [
      { kind: 'opened', description: 'file:/k (fingerprint 01)', dev: false, roundTrip: true } as const,
      'ok',
      /^file:\/k \(fingerprint 01\): wrap\/unwrap round trip ok$/,
    ],
    [
      { kind: 'opened', description: 'file:/d/dev-root.key', dev: true, roundTrip: true } as const,
      'warn',
      /DEVELOPMENT key \(--dev\)/,
    ],
    [
      { kind: 'opened', description: 'pkcs11:x', dev: false, roundTrip: 'CKR_DEVICE_REMOVED' } as const,
      'FAIL',
      /round trip failed: CKR_DEVICE_REMOVED/,
    ],
  ])('%j', (finding, status, detail) => {
    const r = rootKeyRow(finding);
    expect([r.status, r.detail]).toEqual([status, expect.stringMatching(detail)]);
  });
});

describe('keystoreRow', () => {
  const base = { file: '/d/keystore.json', generation: 7, keys: 3, aliases: 1, grants: 0 };
  it.each([
    [undefined, 'skip', /^needs the root key$/],
    [{ error: 'keystore: /d/keystore.json: keys[0].state: unknown' }, 'FAIL', /keys\[0\]\.state/],
    [
      {
        ...base,
        secretsKey: { keyId: 'k1', primaryVersion: 2, versions: 3, newestVersion: 3 },
        lockedByPid: 42,
      },
      'ok',
      /^\/d\/keystore\.json: sealed by this root key, generation 7, 3 keys, 1 alias, 0 grants, in use by pid 42; Secrets key k1 primary v2 of 3$/,
    ],
    [
      { ...base, secretsKey: { keyId: 'k1', primaryVersion: 2, versions: 3, newestVersion: 3 }, root: true },
      'ok',
      /^\/d\/keystore\.json: sealed by this root key \(pkcs11, fingerprint 0123456789abcdef\), generation 7, 3 keys/,
    ],
    [
      { ...base, keys: 1, aliases: 2, grants: 1 },
      'warn',
      /1 key, 2 aliases, 1 grant, not in use; no Secrets key alias\/kubekms\/secrets yet/,
    ],
  ])('%j', (finding, status, detail) => {
    const hsm = { kind: 'pkcs11', fingerprint: '0123456789abcdef' } as const;
    const withRoot = finding !== undefined && 'root' in finding;
    const r = keystoreRow(finding, 'alias/kubekms/secrets', withRoot ? hsm : undefined);
    expect([r.status, r.detail]).toEqual([status, expect.stringMatching(detail)]);
  });
});

describe('apiRow', () => {
  const version = { status: 200, body: JSON.stringify({ gitVersion: 'v1.36.3' }) };
  const discovery = (names: string[]) => ({
    status: 200,
    body: JSON.stringify({ resources: names.map((name) => ({ name })) }),
  });
  it.each([
    [
      'unreachable',
      { server: 'https://a:6443', version: 'connect ECONNREFUSED' },
      'FAIL',
      /^https:\/\/a:6443: connect ECONNREFUSED$/,
    ],
    [
      '401',
      { server: 's', version: { status: 401, body: 'Unauthorized' } },
      'FAIL',
      /GET \/version answered HTTP 401: Unauthorized/,
    ],
    ['not JSON', { server: 's', version: { status: 200, body: '<html>' } }, 'FAIL', /not JSON/],
    [
      'CRD served',
      {
        server: 's',
        version,
        discovery: discovery(['kmskeys', 'kmsstaterecords', 'kmsstaterecords/status']),
      },
      'ok',
      /^s \(Kubernetes v1\.36\.3\); KmsStateRecord CRD served$/,
    ],
    [
      'group missing',
      { server: 's', version, discovery: { status: 404, body: '' } },
      'FAIL',
      /kubekms\.io\/v1alpha1 is not served: install the CRDs/,
    ],
    [
      'CRD missing',
      { server: 's', version, discovery: discovery(['kmskeys']) },
      'FAIL',
      /KmsStateRecord CRD \(kmsstaterecords\.kubekms\.io\) is not served/,
    ],
    [
      'forbidden',
      { server: 's', version, discovery: { status: 403, body: '' } },
      'FAIL',
      /HTTP 403 \(credentials\/RBAC\)/,
    ],
    [
      'discovery timed out',
      { server: 's', version, discovery: 'no answer within 5 s' },
      'FAIL',
      /GET \/apis\/kubekms\.io\/v1alpha1: no answer/,
    ],
  ])('%s', (_what, finding, status, detail) => {
    const r = apiRow(finding);
    expect([r.check, r.status, r.detail]).toEqual(['api', status, expect.stringMatching(detail)]);
  });
});
