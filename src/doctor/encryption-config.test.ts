import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  analyzeEncryptionConfig,
  EncryptionConfigError,
  entryMatches,
  parseEncryptionConfig,
  unixEndpointPath,
} from './encryption-config.ts';

const SOCKET = '/var/run/kubekms/kms.sock';
const KMS = `      - kms:\n          apiVersion: v2\n          name: kubekms\n          endpoint: unix://${SOCKET}\n`;
const IDENTITY = '      - identity: {}\n';
const head = 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n';
const rule = (resources: string[], ...providers: string[]) =>
  `  - resources: [${resources.join(', ')}]\n    providers:\n${providers.join('')}`;
const config = (...rules: string[]) => head + rules.join('');

function analyze(text: string, socket = SOCKET) {
  const rows = analyzeEncryptionConfig(parseEncryptionConfig(text, 'enc.yaml'), socket);
  return Object.fromEntries(
    rows.map((r) => [r.check.replace('encryption config: ', ''), `${r.status} ${r.detail}`]),
  );
}

describe('entryMatches (kube-apiserver rule matching)', () => {
  it.each([
    ['secrets', 'secrets', true],
    ['secrets', 'configmaps', false],
    ['*.', 'secrets', true],
    ['*.', 'kmsstaterecords.kubekms.io', false],
    ['*.*', 'secrets', true],
    ['*.*', 'kmsstaterecords.kubekms.io', true],
    ['*.kubekms.io', 'kmsstaterecords.kubekms.io', true],
    ['*.kubekms.io', 'leases.coordination.k8s.io', false],
    ['kmsstaterecords.kubekms.io', 'kmsstaterecords.kubekms.io', true],
    ['kmskeys.kubekms.io', 'kmsstaterecords.kubekms.io', false],
    ['kmsstaterecords', 'kmsstaterecords.kubekms.io', false],
  ])('%s names %s: %s', (entry, target, expected) => {
    expect(entryMatches(entry, target)).toBe(expected);
  });
});

describe('analyzeEncryptionConfig', () => {
  it('passes the shipped deploy/encryption-config.yaml', () => {
    const text = readFileSync(new URL('../../deploy/encryption-config.yaml', import.meta.url), 'utf8');
    const r = analyze(text);
    expect(r['own state']).toBe(
      'ok kmsstaterecords.kubekms.io → identity (rule resources[0] (kmsstaterecords.kubekms.io))',
    );
    expect(r.secrets).toBe(`ok secrets → kms v2 "kubekms" unix://${SOCKET} (rule resources[1] (secrets))`);
    expect(r['kubekms objects']).toBeUndefined();
  });

  it.each([
    [
      'Secrets only (no rule names the state)',
      config(rule(['secrets'], KMS, IDENTITY)),
      /^ok no rule names kmsstaterecords/,
    ],
    [
      'identity for *.kubekms.io before a kms *.*',
      config(rule(['"*.kubekms.io"'], IDENTITY), rule(['"*.*"'], KMS, IDENTITY)),
      /^ok kmsstaterecords.kubekms.io → identity \(rule resources\[0\] \(\*\.kubekms\.io\)\)/,
    ],
    [
      'aescbc for the state (not kubekms: allowed)',
      config(
        rule(['kmsstaterecords.kubekms.io'], '      - aescbc:\n          keys: []\n'),
        rule(['secrets'], KMS),
      ),
      /^ok kmsstaterecords.kubekms.io → aescbc/,
    ],
    [
      'kms first for *.*',
      config(rule(['"*.*"'], KMS, IDENTITY)),
      /^FAIL kmsstaterecords.kubekms.io is written by kms v2 "kubekms" unix:\/\/\/var\/run\/kubekms\/kms.sock \(rule resources\[0\] \(\*\.\*\)\): kubekms would be needed to read its own state/,
    ],
    [
      'kms first for *.kubekms.io after an unrelated rule',
      config(rule(['configmaps'], IDENTITY), rule(['secrets', '"*.kubekms.io"'], KMS, IDENTITY)),
      /^FAIL .*\(rule resources\[1\] \(\*\.kubekms\.io\)\)/,
    ],
    [
      'kms first for the state by name, identity second',
      config(rule(['kmsstaterecords.kubekms.io'], KMS, IDENTITY)),
      /^FAIL .*\(rule resources\[0\] \(kmsstaterecords\.kubekms\.io\)\)/,
    ],
  ])('own state: %s', (_what, text, expected) => {
    expect(analyze(text)['own state']).toMatch(expected);
  });

  it('warns when other kubekms objects or Leases are written by kms, naming each and its rule', () => {
    const r = analyze(config(rule(['kmsstaterecords.kubekms.io'], IDENTITY), rule(['"*.*"'], KMS, IDENTITY)));
    expect(r['own state']).toMatch(/^ok/);
    expect(r['kubekms objects']).toBe(
      'warn written by a kms provider, unreadable while it is down: kmskeys.kubekms.io (rule resources[1] (*.*)), ' +
        'kmsaliases.kubekms.io (rule resources[1] (*.*)), kmsgrants.kubekms.io (rule resources[1] (*.*)), ' +
        'leases.coordination.k8s.io (rule resources[1] (*.*))',
    );
    expect(r.secrets).toMatch(/^ok secrets → kms v2 .*\(rule resources\[1\] \(\*\.\*\)\)/);
  });

  it.each([
    ['no rule names secrets', config(rule(['configmaps'], KMS)), SOCKET, /^FAIL no rule names secrets/],
    [
      'identity first',
      config(rule(['secrets'], IDENTITY, KMS)),
      SOCKET,
      /^FAIL secrets are written by identity \(rule resources\[0\] \(secrets\)\)/,
    ],
    [
      'an earlier *. rule with aesgcm wins',
      config(rule(['"*."'], '      - aesgcm:\n          keys: []\n'), rule(['secrets'], KMS)),
      SOCKET,
      /^FAIL secrets are written by aesgcm \(rule resources\[0\] \(\*\.\)\)/,
    ],
    [
      'kms v1 (apiVersion missing)',
      config(
        rule(['secrets'], `      - kms:\n          name: kubekms\n          endpoint: unix://${SOCKET}\n`),
      ),
      SOCKET,
      /^FAIL secrets are written by kms v1 .*set apiVersion: v2/,
    ],
    [
      'another socket',
      config(rule(['secrets'], KMS)),
      '/run/other.sock',
      /^FAIL .*endpoint is not unix:\/\/\/run\/other.sock \(--kms-socket\)/,
    ],
    ['no --kms-socket', config(rule(['secrets'], KMS)), '', /^FAIL .*but --kms-socket is empty/],
    [
      'a TCP endpoint',
      config(
        rule(
          ['secrets'],
          '      - kms:\n          apiVersion: v2\n          name: k\n          endpoint: tcp://127.0.0.1:1\n',
        ),
      ),
      SOCKET,
      /^FAIL .*endpoint is not unix:\/\//,
    ],
    [
      'the same socket spelled with a double slash',
      config(
        rule(
          ['secrets'],
          `      - kms:\n          apiVersion: v2\n          name: kubekms\n          endpoint: unix:///var/run//kubekms/kms.sock\n`,
        ),
      ),
      SOCKET,
      /^ok secrets → kms v2/,
    ],
  ])('secrets: %s', (_what, text, socket, expected) => {
    expect(analyze(text, socket).secrets).toMatch(expected);
  });

  it('reads JSON as well (kube-apiserver accepts both)', () => {
    const json = JSON.stringify({
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'EncryptionConfiguration',
      resources: [
        {
          resources: ['secrets'],
          providers: [{ kms: { apiVersion: 'v2', name: 'kubekms', endpoint: `unix://${SOCKET}` } }],
        },
      ],
    });
    expect(analyze(json).secrets).toMatch(/^ok/);
  });
});

describe('parseEncryptionConfig refuses bad input, naming the line or the field', () => {
  it.each([
    [
      'unparseable YAML',
      `${head}  - resources: [secrets\n    providers: []\n`,
      /^enc\.yaml: line \d+, column \d+: not valid YAML: /,
    ],
    [
      'bad indentation',
      'kind: EncryptionConfiguration\n  apiVersion: x\n',
      /^enc\.yaml: line 2, column \d+: not valid YAML: bad indentation/,
    ],
    ['an empty file', '', /^enc\.yaml: not valid YAML: .*empty/],
    ['a list', '- a\n', /^enc\.yaml: not a YAML mapping \(got a list\)$/],
    ['null', '~\n', /^enc\.yaml: not a YAML mapping \(got null\)$/],
    [
      'another kind',
      'apiVersion: apiserver.config.k8s.io/v1\nkind: Pod\n',
      /^enc\.yaml: kind: expected "EncryptionConfiguration", got "Pod"$/,
    ],
    [
      'another apiVersion',
      'apiVersion: v1\nkind: EncryptionConfiguration\n',
      /^enc\.yaml: apiVersion: expected "apiserver\.config\.k8s\.io\/v1", got "v1"$/,
    ],
    ['no resources', `${head}`, /^enc\.yaml: resources: expected a non-empty list of rules$/],
    ['a rule that is a string', `${head}  - secrets\n`, /^enc\.yaml: resources\[0\]: expected a mapping/],
    [
      'a rule without resources',
      `${head}  - providers: [{identity: {}}]\n`,
      /^enc\.yaml: resources\[0\]\.resources: expected a non-empty list/,
    ],
    [
      'a resource that is a number',
      `${head}  - resources: [secrets, 7]\n    providers: [{identity: {}}]\n`,
      /^enc\.yaml: resources\[0\]\.resources\[1\]: expected a resource name, got 7$/,
    ],
    [
      'a rule without providers',
      `${head}  - resources: [secrets]\n`,
      /^enc\.yaml: resources\[0\]\.providers: expected a non-empty list/,
    ],
    [
      'an unknown provider',
      `${head}  - resources: [secrets]\n    providers: [{vault: {}}]\n`,
      /^enc\.yaml: resources\[0\]\.providers\[0\]: unknown provider type "vault"/,
    ],
    [
      'two types in one provider',
      `${head}  - resources: [secrets]\n    providers: [{identity: {}, aescbc: {}}]\n`,
      /^enc\.yaml: resources\[0\]\.providers\[0\]: expected exactly one provider type, got identity, aescbc$/,
    ],
    [
      'a kms provider without endpoint',
      `${head}  - resources: [secrets]\n    providers: [{kms: {name: k, apiVersion: v2}}]\n`,
      /^enc\.yaml: resources\[0\]\.providers\[0\]\.kms\.endpoint: missing$/,
    ],
    [
      'a kms name that is a number',
      `${head}  - resources: [secrets]\n    providers: [{kms: {name: 3, endpoint: unix:///a}}]\n`,
      /^enc\.yaml: resources\[0\]\.providers\[0\]\.kms\.name: expected a string, got 3$/,
    ],
  ])('%s', (_what, text, message) => {
    const e = (() => {
      try {
        parseEncryptionConfig(text, 'enc.yaml');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(EncryptionConfigError);
    expect((e as Error).message).toMatch(message);
  });
});

describe('unixEndpointPath', () => {
  it.each([
    ['unix:///var/run/kubekms/kms.sock', '/var/run/kubekms/kms.sock'],
    ['unix:/var/run/k.sock', '/var/run/k.sock'],
    ['unix://relative.sock', undefined],
    ['tcp://127.0.0.1:80', undefined],
    ['/var/run/k.sock', undefined],
  ])('%s → %s', (endpoint, path) => {
    expect(unixEndpointPath(endpoint)).toBe(path);
  });
});
