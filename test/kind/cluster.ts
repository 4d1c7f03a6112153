/**
 * The kind cluster of the kind suite (test/e2e/kind.test.ts): what test/kind/build.sh built, a run dir holding a
 * copy of deploy/ and charts/ (the documented commands write deploy/kind/host/root.key relative to the directory
 * they run in), and the tools on PATH the way docs/install.md uses them: `kind` (test/kind/kind-wrapper.sh, which
 * adds this machine's test-only patches), `kubectl` v1.36 and `helm` from the project's caches.
 */

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEncryptedObject, REPO_ROOT } from '../controlplane/harness.ts';
import { waitFor } from '../e2e/secrets.ts';
import { type ExecResult, exec, must } from '../packaging/exec.ts';

const HERE = join(REPO_ROOT, 'test', 'kind');
const CACHE = process.env.KUBEKMS_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'kubekms');

/** The cluster name docs/install.md uses, and the one the suite uses instead (brief: kubekms-kind prefix). */
export const DOC_CLUSTER = 'kubekms';
export const CLUSTER = 'kubekms-kind';
export const NODE = `${CLUSTER}-control-plane`;
export const IMAGE = 'kubekms/kubekms:0.1.0';

export interface KindState {
  MODE: string;
  NOPRIV: string;
  KIND: string;
  NODE_IMAGE: string;
  CGROUPV1: string;
}

/** Reads $KIND_CACHE/state.env, building the stack first if it is missing (a no-op when cached). */
export async function kindState(): Promise<KindState> {
  const file = join(CACHE, 'kind', 'state.env');
  if (!existsSync(file)) await must('bash', [join(HERE, 'build.sh')], { timeoutMs: 3_600_000 });
  const st: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) st[line.slice(0, i)] = line.slice(i + 1);
  }
  return st as unknown as KindState;
}

/**
 * The fenced blocks of a Markdown document whose info string is `sh <tag>` (e.g. ```` ```sh kind-install ````),
 * in document order.
 */
export function docBlocks(file: string, tag: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /^```sh ([\w-]+)\n([\s\S]*?)^```$/gm;
  for (const m of text.matchAll(re)) if (m[1] === tag) out.push(m[2]!);
  return out;
}

export class KindRun {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'kubekms-kind-'));
    const bin = join(this.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(join(HERE, 'kind-wrapper.sh'), join(bin, 'kind'));
    symlinkSync(join(CACHE, 'bin', 'kube-apiserver-v1.36.3', 'kubectl'), join(bin, 'kubectl'));
    symlinkSync(join(CACHE, 'bin', 'helm-v3.21.4', 'helm'), join(bin, 'helm'));
    for (const d of ['deploy', 'charts']) cpSync(join(REPO_ROOT, d), join(this.dir, d), { recursive: true });
    this.env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      KUBECONFIG: join(this.dir, 'kubeconfig'),
    };
  }

  /**
   * Runs a documented shell block in the run dir with bash -euo pipefail, the documented cluster name replaced by
   * the suite's.
   */
  sh(script: string, timeoutMs = 600_000): Promise<ExecResult> {
    const s = script
      .replaceAll(`--name ${DOC_CLUSTER} `, `--name ${CLUSTER} `)
      .replaceAll(`--name ${DOC_CLUSTER}\n`, `--name ${CLUSTER}\n`)
      .replaceAll(`${DOC_CLUSTER}-control-plane`, NODE);
    return exec('bash', ['-euo', 'pipefail', '-c', s], { cwd: this.dir, env: this.env, timeoutMs });
  }

  async mustSh(script: string, timeoutMs = 600_000): Promise<string> {
    const r = await this.sh(script, timeoutMs);
    if (r.code !== 0)
      throw new Error(
        `shell block exited ${r.code}:\n${script}\n${r.stderr.slice(-6000)}\n${r.stdout.slice(-2000)}`,
      );
    return r.stdout;
  }

  kubectl(args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return exec('kubectl', args, {
      cwd: this.dir,
      env: this.env,
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 60_000,
    });
  }

  async mustKubectl(
    args: readonly string[],
    opts: { input?: string; timeoutMs?: number } = {},
  ): Promise<string> {
    const r = await this.kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  /** A command inside the node container. */
  node(args: readonly string[], timeoutMs = 120_000): Promise<ExecResult> {
    return exec('docker', ['exec', NODE, ...args], { env: this.env, timeoutMs });
  }

  async mustNode(args: readonly string[], timeoutMs = 120_000): Promise<string> {
    const r = await this.node(args, timeoutMs);
    if (r.code !== 0)
      throw new Error(`docker exec ${NODE} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  /** The raw value etcd holds under `key`, read with etcdctl inside the etcd static pod. */
  async etcdGet(key: string): Promise<Buffer | undefined> {
    const out = await this.mustKubectl([
      ...['-n', 'kube-system', 'exec', `etcd-${NODE}`, '--', 'etcdctl'],
      ...['--cacert', '/etc/kubernetes/pki/etcd/ca.crt', '--cert', '/etc/kubernetes/pki/etcd/server.crt'],
      ...['--key', '/etc/kubernetes/pki/etcd/server.key', 'get', key, '-w', 'json'],
    ]);
    const kvs = (JSON.parse(out) as { kvs?: { value: string }[] }).kvs;
    return kvs?.[0] ? Buffer.from(kvs[0].value, 'base64') : undefined;
  }

  /** Every key and raw value under a prefix, read with etcdctl inside the etcd static pod. */
  async etcdGetPrefix(prefix: string): Promise<Map<string, Buffer>> {
    const out = await this.mustKubectl([
      ...['-n', 'kube-system', 'exec', `etcd-${NODE}`, '--', 'etcdctl'],
      ...['--cacert', '/etc/kubernetes/pki/etcd/ca.crt', '--cert', '/etc/kubernetes/pki/etcd/server.crt'],
      ...['--key', '/etc/kubernetes/pki/etcd/server.key', 'get', prefix, '--prefix', '-w', 'json'],
    ]);
    const kvs = (JSON.parse(out) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
    return new Map(
      kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64')]),
    );
  }

  /** Keys under a prefix (etcdctl --keys-only). */
  async etcdKeys(prefix: string): Promise<string[]> {
    const out = await this.mustKubectl([
      ...['-n', 'kube-system', 'exec', `etcd-${NODE}`, '--', 'etcdctl'],
      ...['--cacert', '/etc/kubernetes/pki/etcd/ca.crt', '--cert', '/etc/kubernetes/pki/etcd/server.crt'],
      ...['--key', '/etc/kubernetes/pki/etcd/server.key', 'get', prefix, '--prefix', '--keys-only'],
    ]);
    return out.split('\n').filter((l) => l.length > 0);
  }

  async deleteCluster(): Promise<void> {
    await exec('kind', ['delete', 'cluster', '--name', CLUSTER], { env: this.env, timeoutMs: 180_000 });
  }
}

/** Polls `fn` until it returns a value other than undefined (the e2e suites' waitFor). */
export const poll = waitFor;

/** The `keyID` of a KMS v2 value stored after `prefix` (`k8s:enc:kms:v2:<name>:`); undefined for other values. */
export function kmsv2KeyId(raw: Buffer, prefix: string): string | undefined {
  if (raw.subarray(0, prefix.length).toString() !== prefix) return undefined;
  return decodeEncryptedObject(raw).keyID;
}
