/**
 * Secret create and get throughput through a real kube-apiserver (v1.36, test/controlplane) with the kubekms
 * KMS v2 provider, the identity provider and aescbc, measured in the same run:
 *   node bench/apiserver.ts [secrets-per-run] [concurrency]
 * Needs the control-plane binaries (bash test/controlplane/build.sh all).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import {
  type Apiserver,
  cleanup,
  createPki,
  createRunDir,
  encryptionConfigYaml,
  startApiserver,
  startEtcd,
  startPlugin,
} from '../test/controlplane/harness.ts';
import { fmt } from './lib/load.ts';

const COUNT = Number(process.argv[2] ?? 400);
const CONCURRENCY = Number(process.argv[3] ?? 8);

function aescbcConfig(): string {
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: EncryptionConfiguration',
    'resources:',
    '  - resources: [secrets]',
    '    providers:',
    '      - aescbc:',
    '          keys:',
    `            - name: key1`,
    `              secret: ${randomBytes(32).toString('base64')}`,
    '      - identity: {}',
    '',
  ].join('\n');
}

function client(api: Apiserver) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: CONCURRENCY,
    ca: readFileSync(api.pki.caCert),
    cert: readFileSync(api.pki.adminCert),
    key: readFileSync(api.pki.adminKey),
  });
  return (method: string, path: string, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: api.port,
          method,
          path,
          agent,
          servername: 'localhost',
          headers: body ? { 'content-type': 'application/json' } : {},
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

async function timed(n: number, fn: (i: number) => Promise<number>, want: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const status = await fn(i);
        if (status !== want) throw new Error(`request ${i}: HTTP ${status}`);
      }
    }),
  );
  return (n * 1000) / (performance.now() - start);
}

async function run(provider: 'identity' | 'aescbc' | 'kubekms'): Promise<{ create: number; get: number }> {
  const dir = createRunDir(`kubekms-bench-${provider}-`);
  await createPki(dir);
  const etcd = await startEtcd(dir);
  let encryptionConfig: string | undefined;
  if (provider === 'kubekms') {
    const plugin = await startPlugin({ dir });
    encryptionConfig = encryptionConfigYaml({ socket: plugin.socket });
  } else if (provider === 'aescbc') {
    encryptionConfig = aescbcConfig();
  }
  const api = await startApiserver({ dir, etcd, ...(encryptionConfig ? { encryptionConfig } : {}) });
  const call = client(api);
  const body = (i: number) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `s-${i}` },
      data: { v: randomBytes(64).toString('base64') },
    });
  // Warm up: the first write makes the apiserver fetch a DEK.
  await call('POST', '/api/v1/namespaces/default/secrets', body(-1).replace('s--1', 'warm'));
  const create = await timed(COUNT, (i) => call('POST', '/api/v1/namespaces/default/secrets', body(i)), 201);
  const get = await timed(COUNT, (i) => call('GET', `/api/v1/namespaces/default/secrets/s-${i}`), 200);
  await cleanup({ failed: false });
  return { create, get };
}

const results = {
  identity: await run('identity'),
  aescbc: await run('aescbc'),
  kubekms: await run('kubekms'),
};
console.log(
  `kube-apiserver v1.36 Secret throughput, ${COUNT} Secrets, concurrency ${CONCURRENCY}, Node ${process.version}`,
);
console.log('| provider | create/s | get/s | create vs identity | get vs identity |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, r] of Object.entries(results)) {
  console.log(
    `| ${name} | ${fmt(r.create)} | ${fmt(r.get)} | ${fmt(r.create / results.identity.create, 2)} | ${fmt(r.get / results.identity.get, 2)} |`,
  );
}
