/**
 * Packaging, checked against real tools (issue 7): the production install the Dockerfile performs works from a
 * clean clone (no image is built on CI machines); the Helm chart passes `helm lint`/`helm template` (helm built
 * from the Go module proxy) and its schema; every rendered object, the static pod and the EncryptionConfiguration
 * are accepted by a real kube-apiserver.
 */

import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli/flags.ts';
import { renderStaticPod, STATIC_POD_FLAGS, staticPodOptions } from '../../src/cli/static-pod-command.ts';
import {
  type ControlPlane,
  createRunDir,
  etcdKey,
  freePort,
  REPO_ROOT,
  startControlPlane,
} from '../controlplane/harness.ts';
import { must } from '../packaging/exec.ts';
import { CHART, FULL_VALUES, find, helmBinary, helmTemplate, kinds, manifests } from '../packaging/helm.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import { createNamespace, waitFor } from './secrets.ts';

keepLogsOnFailure();

const temps: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const SHOP = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } };
/** The AWS API with the least a user must give: one replica, a credentials Secret, a TLS Secret, its clients. */
const AWS = [
  '--set',
  'aws.enabled=true',
  '--set',
  'operator.replicas=1',
  '--set',
  'aws.credentials.existingSecret=kms-creds',
  '--set',
  'aws.tls.existingSecret=kms-tls',
  '--set-json',
  `aws.networkPolicy.allowedClients=${JSON.stringify([SHOP])}`,
];
/** The same with a cert-manager ClusterIssuer instead of the TLS Secret. */
const AWS_CERT_MANAGER = [
  ...AWS,
  '--set',
  'aws.tls.existingSecret=',
  '--set',
  'aws.tls.certManager.issuerRef.name=cluster-ca',
  '--set',
  'aws.tls.certManager.issuerRef.kind=ClusterIssuer',
];

describe('Dockerfile install steps from a clean clone', () => {
  it('the Dockerfile does what this test mimics, and .dockerignore keeps what it copies', () => {
    const docker = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    for (const line of [
      'FROM node:24-bookworm-slim AS build',
      'RUN npm run build',
      'RUN npm ci --omit=dev --no-audit --no-fund',
      'COPY --from=deps /app/node_modules ./node_modules',
      'COPY --from=build /src/dist ./dist',
      'COPY package.json ./',
      'COPY proto ./proto',
      'COPY crds ./crds',
      'USER 1000:1000',
      'ENTRYPOINT ["node", "dist/cli/main.js", "serve"]',
    ])
      expect(docker).toContain(line);
    expect(docker).not.toMatch(/^(CMD|ENTRYPOINT) [^[]/m); // exec form only: no shell at run time
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const needed of ['src', 'proto', 'crds', 'package.json', 'package-lock.json', 'tsconfig.json'])
      expect(ignored).not.toContain(needed);
  });

  it('npm ci --omit=dev + dist/ + proto/ start `serve`, which answers /readyz 200 and stops on SIGTERM', async () => {
    // Build stage: a clean clone, full install, `npm run build`.
    const src = temp('kubekms-build-');
    await must('git', ['clone', '-q', REPO_ROOT, src]);
    // Generous limits: on a cold npm cache the installs download from the registry.
    const slow = { timeoutMs: 400_000 };
    await must('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: src, ...slow });
    await must('npm', ['run', 'build', '--silent'], { cwd: src, ...slow });
    // Runtime stage: exactly the files the Dockerfile copies, production dependencies only.
    const app = temp('kubekms-app-');
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(src, f), join(app, f));
    await must('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: app,
      ...slow,
    });
    for (const d of ['dist', 'proto', 'crds']) cpSync(join(src, d), join(app, d), { recursive: true });
    const modules = readdirSync(join(app, 'node_modules'));
    expect(modules).not.toContain('typescript');
    expect(modules).not.toContain('vitest');

    const data = temp('kubekms-run-');
    const port = await freePort();
    const child = spawn(
      'node',
      [
        'dist/cli/main.js',
        'serve',
        '--dev',
        `--data-dir=${join(data, 'data')}`,
        `--kms-socket=${join(data, 'kms.sock')}`,
        `--health-listen=127.0.0.1:${port}`,
      ],
      {
        cwd: app,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let log = '';
    child.stdout.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const body = await waitFor(
        `/readyz 200 (log: ${log.slice(-2000)})`,
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return r?.status === 200 ? await r.text() : undefined;
        },
        60_000,
        200,
      );
      expect(body).toContain('[+]kmsv2');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('kubekms_kmsv2_healthy 1');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 900_000);
});

describe('Helm chart', () => {
  let helm: string;
  beforeAll(async () => {
    helm = await helmBinary();
  }, 600_000);

  it('renders the CRDs of crds/ as templates, kept on uninstall unless crds.keep is false', async () => {
    const want = readdirSync(join(REPO_ROOT, 'crds')).flatMap((f) =>
      manifests(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8')),
    );
    const crds = (out: string) => manifests(out).filter((d) => d.kind === 'CustomResourceDefinition');
    const rendered = crds((await helmTemplate(helm)).stdout);
    expect(rendered.map((c) => c.metadata.name).sort()).toEqual(want.map((c) => c.metadata.name).sort());
    for (const c of rendered) {
      expect(c.spec, c.metadata.name).toEqual(want.find((w) => w.metadata.name === c.metadata.name)?.spec);
      expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      expect(c.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    }
    const unkept = crds((await helmTemplate(helm, ['--set', 'crds.keep=false'])).stdout);
    expect(unkept).toHaveLength(want.length);
    for (const c of unkept) expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
    expect(crds((await helmTemplate(helm, ['--set', 'crds.enabled=false'])).stdout)).toEqual([]);
  });

  it('passes helm lint with the default and the full values', async () => {
    await must(helm, ['lint', '--strict', CHART]);
    await must(helm, ['lint', '--strict', CHART, '-f', FULL_VALUES]);
  });

  it('renders monitoring objects only when the cluster serves monitoring.coreos.com/v1 (or forced)', async () => {
    const plain = kinds((await helmTemplate(helm)).stdout);
    expect(plain.sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        ...Array(4).fill('CustomResourceDefinition'),
        'Deployment',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    const withApi = kinds((await helmTemplate(helm, ['--api-versions', 'monitoring.coreos.com/v1'])).stdout);
    expect(withApi).toContain('ServiceMonitor');
    expect(withApi).toContain('PrometheusRule');
    const never = kinds(
      (
        await helmTemplate(helm, [
          '--api-versions',
          'monitoring.coreos.com/v1',
          '--set',
          'monitoring.prometheusOperator=never',
        ])
      ).stdout,
    );
    expect(never).not.toContain('ServiceMonitor');
  });

  it('puts the alert rules file into the PrometheusRule and the dashboard into a labelled ConfigMap', async () => {
    const out = (await helmTemplate(helm, ['--set', 'monitoring.prometheusOperator=always'])).stdout;
    expect(out).toContain('alert: KubekmsPluginUnhealthy');
    expect(out).toContain('summary: kubekms KMS v2 plugin on {{ $labels.instance }} reports unhealthy');
    expect(out).toMatch(/grafana_dashboard: "1"/);
    expect(out).toContain('"uid": "kubekms-overview"');
  });

  it.each([
    ['a string where an integer belongs', ['--set', 'operator.replicas=two'], /operator\/replicas/],
    ['a value outside an enum', ['--set', 'monitoring.prometheusOperator=maybe'], /prometheusOperator/],
    [
      'an unknown value',
      ['--set', 'operator.replica=2'],
      /additional properties 'replica' not allowed|replica/,
    ],
    ['a bad duration', ['--set', 'monitoring.serviceMonitor.interval=soon'], /interval/],
    ['a bad resource quantity', ['--set', 'operator.resources.requests.cpu=lots'], /cpu/],
    ['a string where crds.keep is a boolean', ['--set', 'crds.keep=yes'], /crds\/keep/],
    ['an ARN account that is not 12 digits', ['--set-string', 'arn.account=1234'], /arn\/account/],
    ['a string where aws.enabled is a boolean', ['--set', 'aws.enabled=on'], /aws\/enabled/],
    ['a port that is not a number', ['--set', 'aws.port=https'], /aws\/port/],
    ['an unknown management mode', ['--set', 'aws.management=auto'], /aws\/management/],
    ['a request timeout kubekms cannot parse', ['--set', 'aws.requestTimeout=1m30s'], /requestTimeout/],
    [
      'a bad credentials Secret name',
      ['--set', 'aws.credentials.existingSecret=Not_A_Name'],
      /existingSecret/,
    ],
    [
      'a cert-manager duration that is no duration',
      ['--set', 'aws.tls.certManager.duration=90d'],
      /duration/,
    ],
    [
      'an allowed client with an unknown selector',
      ['--set-json', 'aws.networkPolicy.allowedClients=[{"podSelectors":{}}]'],
      /allowedClients\/0/,
    ],
    [
      'an allowed client that names nobody',
      ['--set-json', 'aws.networkPolicy.allowedClients=[{}]'],
      /allowedClients\/0/,
    ],
    [
      'a selector operator Kubernetes does not know',
      [
        '--set-json',
        'aws.networkPolicy.allowedClients=[{"podSelector":{"matchExpressions":[{"key":"a","operator":"Is"}]}}]',
      ],
      /operator/,
    ],
    ['a web identity audience with a space', ['--set', 'aws.webIdentity.audience=a b'], /audience/],
    [
      'a web identity minimum that is no duration',
      ['--set', 'aws.webIdentity.minDuration=15 minutes'],
      /minDuration/,
    ],
  ])('refuses %s through values.schema.json', async (_what, args, message) => {
    const r = await helmTemplate(helm, args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(message);
  });

  it('refuses two operator replicas on one keystore volume, and replaces the one pod with Recreate', async () => {
    const claim = ['--set', 'operator.persistence.existingClaim=keystore'];
    const r = await helmTemplate(helm, claim);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/operator\.replicas: with operator\.persistence\.existingClaim, at most 1/);
    const one = await helmTemplate(helm, [...claim, '--set', 'operator.replicas=1']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/strategy:\n(\s+#.*\n)*\s+type: Recreate\n/);
    expect((await helmTemplate(helm)).stdout).toContain('rollingUpdate: {maxUnavailable: 0, maxSurge: 1}');
  });

  it('renders no AWS API unless aws.enabled, and then no delete on the kubekms.io kinds', async () => {
    const out = (await helmTemplate(helm)).stdout;
    expect(manifests(out).filter((m) => m.metadata.name === 'kubekms-aws')).toEqual([]);
    expect(out).not.toContain('--aws-listen');
    expect(find(out, 'ClusterRole', 'kubekms-operator').rules?.flatMap((r) => r.verbs)).not.toContain(
      'delete',
    );
  });

  it('serves the AWS API from the operator pod: ClusterIP Service, TLS and credentials from Secrets, cluster-mode RBAC, NetworkPolicy', async () => {
    const r = await helmTemplate(helm, AWS);
    expect(r.code, r.stderr).toBe(0);
    const svc = find(r.stdout, 'Service', 'kubekms-aws');
    expect(svc.spec?.type).toBe('ClusterIP');
    expect(svc.spec?.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'aws', protocol: 'TCP', appProtocol: 'https' },
    ]);
    const pod = find(r.stdout, 'Deployment', 'kubekms-operator').spec?.template?.spec;
    const operator = pod?.containers.find((c) => c.name === 'operator');
    expect(operator?.ports).toContainEqual({ name: 'aws', containerPort: 8443, protocol: 'TCP' });
    expect(operator?.args).toEqual(
      expect.arrayContaining([
        '--aws-listen=0.0.0.0:8443',
        '--aws-tls-cert=/etc/kubekms/aws-tls/tls.crt',
        '--aws-tls-key=/etc/kubekms/aws-tls/tls.key',
        '--aws-credentials=/run/kubekms-key/aws-credentials.json',
        '--aws-management=cluster',
        '--aws-cluster-timeout=20s',
        '--arn-region=us-east-1',
      ]),
    );
    // (YAML 1.1, as Kubernetes reads it: 0440 is octal; js-yaml would read 440.)
    expect(r.stdout).toMatch(/secretName: kms-tls\n\s+defaultMode: 0440\n/);
    expect(pod?.volumes).toContainEqual({
      name: 'aws-tls',
      secret: {
        secretName: 'kms-tls',
        defaultMode: 440,
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      },
    });
    // The credentials file must be 0600 for kubekms: the init container copies it next to the root key.
    const init = pod?.initContainers?.[0];
    expect(JSON.parse(init?.command?.at(-1) ?? '[]')).toContainEqual([
      '/secret-aws/credentials.json',
      '/run/kubekms-key/aws-credentials.json',
    ]);
    expect(pod?.volumes?.find((v) => v.name === 'aws-credentials-secret')?.secret?.secretName).toBe(
      'kms-creds',
    );
    expect(find(r.stdout, 'ClusterRole', 'kubekms-operator').rules).toContainEqual({
      apiGroups: ['kubekms.io'],
      resources: ['kmskeys', 'kmsaliases', 'kmsgrants'],
      verbs: ['create', 'delete'],
    });
    const np = find(r.stdout, 'NetworkPolicy', 'kubekms-aws');
    expect(np.spec?.podSelector?.matchLabels?.['app.kubernetes.io/component']).toBe('operator');
    expect(np.spec?.ingress).toEqual([
      { ports: [{ port: 'aws', protocol: 'TCP' }], from: [SHOP] },
      { ports: [{ port: 'metrics', protocol: 'TCP' }] },
    ]);
  });

  it('web identity (aws.webIdentity): the STS flags, create on tokenreviews, and no credentials Secret needed', async () => {
    const off = await helmTemplate(helm, AWS);
    expect(off.stdout).not.toContain('--aws-sts');
    expect(off.stdout).not.toContain('tokenreviews');
    const r = await helmTemplate(helm, [
      ...AWS,
      '--set',
      'aws.credentials.existingSecret=',
      '--set',
      'aws.webIdentity.enabled=true',
      '--set',
      'aws.webIdentity.minDuration=5m',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const pod = find(r.stdout, 'Deployment', 'kubekms-operator').spec?.template?.spec;
    const args = pod?.containers.find((c) => c.name === 'operator')?.args ?? [];
    expect(args).toEqual(
      expect.arrayContaining(['--aws-sts', '--aws-sts-audience=kubekms', '--aws-sts-min-duration=5m']),
    );
    expect(args.some((a) => a.startsWith('--aws-credentials'))).toBe(false);
    expect(pod?.volumes?.find((v) => v.name === 'aws-credentials-secret')).toBeUndefined();
    expect(JSON.parse(pod?.initContainers?.[0]?.command?.at(-1) ?? '[]')).toHaveLength(1);
    expect(find(r.stdout, 'ClusterRole', 'kubekms-operator').rules).toContainEqual({
      apiGroups: ['authentication.k8s.io'],
      resources: ['tokenreviews'],
      verbs: ['create'],
    });
  });

  it('grants no create/delete for the AWS API with aws.management=engine', async () => {
    const r = await helmTemplate(helm, [...AWS, '--set', 'aws.management=engine']);
    const rules = find(r.stdout, 'ClusterRole', 'kubekms-operator').rules ?? [];
    expect(rules.flatMap((x) => x.verbs)).not.toContain('delete');
    expect(r.stdout).toContain('--aws-management=engine');
    expect(r.stdout).not.toContain('--aws-cluster-timeout');
  });

  it('issues the certificate with cert-manager when the cluster serves cert-manager.io/v1', async () => {
    const r = await helmTemplate(helm, [...AWS_CERT_MANAGER, '--api-versions', 'cert-manager.io/v1']);
    expect(r.code, r.stderr).toBe(0);
    const cert = find(r.stdout, 'Certificate', 'kubekms-aws');
    expect(cert.spec?.secretName).toBe('kubekms-aws-tls');
    expect(cert.spec?.issuerRef).toEqual({
      name: 'cluster-ca',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
    expect(cert.spec?.dnsNames).toEqual([
      'kubekms-aws',
      'kubekms-aws.kubekms',
      'kubekms-aws.kubekms.svc',
      'kubekms-aws.kubekms.svc.cluster.local',
    ]);
    const pod = find(r.stdout, 'Deployment', 'kubekms-operator').spec?.template?.spec;
    expect(pod?.volumes?.find((v) => v.name === 'aws-tls')?.secret?.secretName).toBe('kubekms-aws-tls');
  });

  it.each([
    ['two replicas', ['--set', 'operator.replicas=2'], /aws\.enabled: needs operator\.replicas 1/],
    ['no replica', ['--set', 'operator.replicas=0'], /aws\.enabled: needs operator\.replicas 1/],
    [
      'no credentials',
      ['--set', 'aws.credentials.existingSecret='],
      /aws\.credentials\.existingSecret: required with aws\.enabled unless aws\.webIdentity\.enabled/,
    ],
    ['no TLS', ['--set', 'aws.tls.existingSecret='], /aws\.tls: required with aws\.enabled/],
    [
      'two TLS sources',
      ['--set', 'aws.tls.certManager.issuerRef.name=ca'],
      /aws\.tls: give either existingSecret or certManager\.issuerRef\.name, not both/,
    ],
    [
      'a cert-manager issuer without cert-manager',
      ['--set', 'aws.tls.existingSecret=', '--set', 'aws.tls.certManager.issuerRef.name=ca'],
      /aws\.tls\.certManager: the cluster does not serve cert-manager\.io\/v1/,
    ],
    [
      'a NetworkPolicy that lets nobody in',
      ['--set-json', 'aws.networkPolicy.allowedClients=[]'],
      /aws\.networkPolicy\.allowedClients: name who may connect/,
    ],
  ])('refuses the AWS API with %s, naming the value', async (_what, args, message) => {
    const r = await helmTemplate(helm, [...AWS, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('on a real kube-apiserver 1.36', () => {
  let helm: string;
  let cp: ControlPlane;
  beforeAll(async () => {
    helm = await helmBinary();
    const dir = createRunDir('kubekms-pkg-');
    // The committed EncryptionConfiguration, pointed at the test plugin's socket (the only change).
    const config = readFileSync(join(REPO_ROOT, 'deploy', 'encryption-config.yaml'), 'utf8');
    expect(config).toContain('endpoint: unix:///var/run/kubekms/kms.sock');
    const configPath = join(dir, 'deploy-encryption-config.yaml');
    writeFileSync(
      configPath,
      config.replace('unix:///var/run/kubekms/kms.sock', `unix://${join(dir, 'kms.sock')}`),
    );
    cp = await startControlPlane({
      version: '1.36',
      dir,
      extraApiserverArgs: [`--encryption-provider-config=${configPath}`],
    });
    await cp.apiserver.kubectl([
      'apply',
      '-f',
      join(REPO_ROOT, 'crds'),
      '-f',
      join(REPO_ROOT, 'test', 'packaging', 'monitoring-crds.yaml'),
      '-f',
      join(REPO_ROOT, 'test', 'packaging', 'cert-manager-crds.yaml'),
    ]);
    await cp.apiserver.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    for (const ns of ['kubekms', 'monitoring']) await createNamespace(cp.apiserver, ns);
    // No controller-manager here: the ServiceAccount admission plugin wants the namespace's default SA for pods.
    await cp.apiserver.kubectl(['create', 'serviceaccount', 'default', '-n', 'kube-system']).catch(() => '');
  }, 600_000);

  it.each([
    ['default values', [] as string[]],
    ['default values, Prometheus operator present', ['--api-versions', 'monitoring.coreos.com/v1']],
    ['full values', ['-f', FULL_VALUES]],
    [
      'the AWS API with a cert-manager Certificate',
      [...AWS_CERT_MANAGER, '--api-versions', 'cert-manager.io/v1'],
    ],
  ])('accepts every object the chart renders with %s (dry-run=server)', async (_what, args) => {
    const r = await helmTemplate(helm, args);
    expect(r.code, r.stderr).toBe(0);
    const out = await cp.apiserver.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: r.stdout });
    const applied = out.trim().split('\n');
    expect(applied.length).toBe(kinds(r.stdout).length);
    for (const line of applied) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);
  });

  it.each([
    ['deploy/static-pod.yaml', []],
    ['with the operator', ['--operator-kubeconfig=/etc/kubernetes/kubekms.conf']],
  ])('accepts the static pod (%s) in kube-system (dry-run=server)', async (_what, args) => {
    const yaml = renderStaticPod(staticPodOptions(parseFlags(STATIC_POD_FLAGS, args, {}).values));
    if (args.length === 0)
      expect(yaml).toBe(readFileSync(join(REPO_ROOT, 'deploy', 'static-pod.yaml'), 'utf8'));
    const out = await cp.apiserver.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: yaml });
    expect(out).toContain('pod/kubekms created (server dry run)');
  });

  it('encrypts Secrets with the kubekms provider of deploy/encryption-config.yaml and leaves kubekms objects plain', async () => {
    await createNamespace(cp.apiserver, 'apps');
    await cp.apiserver.kubectl([
      'create',
      'secret',
      'generic',
      'db',
      '-n',
      'apps',
      '--from-literal=password=hunter2-packaging',
    ]);
    const secret = await cp.etcd.get(etcdKey('secrets', 'apps', 'db'));
    expect(secret?.subarray(0, 23).toString()).toBe('k8s:enc:kms:v2:kubekms:');
    expect(secret?.includes('hunter2-packaging')).toBe(false);
    await cp.apiserver.kubectl(['apply', '-f', '-'], {
      input:
        'apiVersion: kubekms.io/v1alpha1\nkind: KmsKey\nmetadata: {name: k1, namespace: apps}\nspec: {}\n',
    });
    const key = await cp.etcd.get(etcdKey('kubekms.io/kmskeys', 'apps', 'k1'));
    expect(key?.toString()).toMatch(/^\{"apiVersion":"kubekms.io\/v1alpha1","kind":"KmsKey"/);
  });
});
