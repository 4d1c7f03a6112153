/**
 * Real Kubernetes control plane for kubekms integration tests: etcd + (KMS v2 plugin) + kube-apiserver,
 * built from source by `test/controlplane/build.sh` (see README.md in this folder). Node built-ins only;
 * kubectl/etcdctl/openssl are spawned.
 *
 * API (all paths absolute; every process is detached in its own process group, its pid in
 * `<dir>/pids/<name>.pid`, its output in `<dir>/logs/<name>.log`):
 *
 *   binaries(version?: '1.36' | '1.31' | '1.37'): Binaries   paths in the build cache; throws "run build.sh" if missing
 *   startControllerManager({dir, apiserver}): ManagedProcess  kube-controller-manager 1.37 (GC + storage-version-migrator)
 *   createRunDir(prefix?: string): string                    fresh mkdtemp dir under os.tmpdir()
 *   freePort(): Promise<number>                              free TCP port on 127.0.0.1
 *   createPki(dir: string): Promise<Pki>                     CA, apiserver serving cert, admin client cert, SA keys
 *   createClientCert(pki, name, user, groups): Promise<{ cert, key }>   extra users for RBAC tests
 *   startEtcd(dir: string, opts?): Promise<Etcd>             { endpoint, get(key), keys(prefix), put, del, stop() }
 *   encryptionConfigYaml({ socket, name?, timeout?, resources? }): string   kms v2 provider, then identity
 *   startPlugin({ dir, command?, socket?, ... }): Promise<Plugin>   waits until the unix socket accepts connections
 *   defaultPluginCommand(p: PluginPaths): string[]           `node <repo>/src/cli/main.ts serve --dev ...`
 *   startApiserver(opts: ApiserverOptions): Promise<Apiserver>
 *       { url, port, version, kubeconfigPath, logPath, encryptionConfigPath, pki,
 *         waitReady(timeoutMs?), restart(opts?), stop(), kubectl(args, { input? }), request(path), metrics(),
 *         writeEncryptionConfig(yaml) }
 *   startControlPlane(opts?: ControlPlaneOptions): Promise<ControlPlane>   all of the above, in order
 *   decodeEncryptedObject(raw: Buffer): EncryptedObject      strips `k8s:enc:kms:v2:<name>:` and parses the protobuf
 *   etcdKey(resource, namespace, name): string               `/registry/<resource>/<ns>/<name>`
 *   cleanup({ failed? }): Promise<void>                      stops every process this module started; removes the
 *                                                            run dirs only when `failed === false` (else prints them)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type KubeVersion = '1.36' | '1.31' | '1.37';

const HERE = import.meta.dirname;
/** Repository root (test/controlplane/../..). */
export const REPO_ROOT = resolve(HERE, '..', '..');

// ---------------------------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------------------------

export interface Versions {
  kube136: string;
  kube131: string;
  kube137: string;
  etcd: string;
}

/** Pinned versions, read from versions.sh (the single source of truth shared with build.sh). */
export function versions(): Versions {
  const text = readFileSync(join(HERE, 'versions.sh'), 'utf8');
  const pick = (name: string): string => {
    const m = new RegExp(`^${name}=(\\S+)`, 'm').exec(text);
    if (!m?.[1]) throw new Error(`versions.sh: ${name} not found`);
    return m[1];
  };
  return {
    kube136: pick('KUBE_V136'),
    kube131: pick('KUBE_V131'),
    kube137: pick('KUBE_V137'),
    etcd: pick('ETCD_V'),
  };
}

/** `${KUBEKMS_CACHE:-~/.cache/kubekms}`. */
export function cacheDir(): string {
  return process.env.KUBEKMS_CACHE || join(homedir(), '.cache', 'kubekms');
}

export interface Binaries {
  kubeVersion: string;
  etcdVersion: string;
  kubeApiserver: string;
  /** kubectl is always the v1.36 build (also used against a 1.31 or 1.37 apiserver). */
  kubectl: string;
  etcd: string;
  etcdctl: string;
  /** Built with kube-apiserver 1.37 only (startControllerManager). */
  kubeControllerManager: string;
}

const BUILD_HINT: Record<KubeVersion, string> = {
  '1.36': 'kube-v1.36 etcd',
  '1.31': 'kube-v1.36 kube-v1.31 etcd',
  '1.37': 'kube-v1.36 kube-v1.37 etcd',
};

export function binaries(version: KubeVersion = '1.36'): Binaries {
  const v = versions();
  const kubeVersion = { '1.31': v.kube131, '1.36': v.kube136, '1.37': v.kube137 }[version];
  const bin = join(cacheDir(), 'bin');
  const b: Binaries = {
    kubeVersion,
    etcdVersion: v.etcd,
    kubeApiserver: join(bin, `kube-apiserver-${kubeVersion}`, 'kube-apiserver'),
    kubectl: join(bin, `kube-apiserver-${v.kube136}`, 'kubectl'),
    etcd: join(bin, `etcd-${v.etcd}`, 'etcd'),
    etcdctl: join(bin, `etcd-${v.etcd}`, 'etcdctl'),
    kubeControllerManager: join(bin, `kube-apiserver-${v.kube137}`, 'kube-controller-manager'),
  };
  const needed = [b.kubeApiserver, b.kubectl, b.etcd, b.etcdctl];
  if (version === '1.37') needed.push(b.kubeControllerManager);
  const missing = needed.filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `control-plane binaries missing: ${missing.join(', ')}\n` +
        `build them first (takes minutes once, then cached): test/controlplane/build.sh ${BUILD_HINT[version]}`,
    );
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------------------

const runDirs = new Set<string>();

/** A fresh directory for one control plane; remembered so that cleanup() can report or remove it. */
export function createRunDir(prefix = 'kubekms-cp-'): string {
  // Short paths: the KMS socket lives inside and sun_path is limited to 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), prefix));
  runDirs.add(dir);
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion; throws with its stderr on a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'buffer',
        maxBuffer: 256 * 1024 * 1024,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
      },
      (err, stdout, stderr) => {
        if (err) {
          const msg = stderr.toString('utf8').trim();
          reject(new Error(`${file} ${args.join(' ')} failed (${err.message.split('\n')[0]}): ${msg}`));
        } else {
          resolveRun({ stdout, stderr: stderr.toString('utf8') });
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

function tail(path: string, lines = 60): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The last few apiserver log lines saying why a KMS provider is unhealthy. */
function kmsErrors(logPath: string): string {
  try {
    const lines = readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((l) => /kms/i.test(l) && /fail|error|unhealthy|not healthy/i.test(l) && !l.includes('FLAG:'));
    return (
      lines
        .slice(-3)
        .map((l) => l.slice(0, 1000))
        .join('\n') || '(none)'
    );
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly pidPath: string;
  /** true once the process has exited (for any reason). */
  exited(): boolean;
  /** exit code / signal once exited. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM to the process group, SIGKILL after `graceMs` (default 10 s); resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the process group (SIGKILL) when this Node process exits. Default true; up.ts sets false. */
  killOnExit?: boolean;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;
const killOnExitPids = new Set<number>();

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of killOnExitPids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Spawns `file args` detached in its own process group, output appended to `<dir>/logs/<name>.log`,
 * pid written to `<dir>/pids/<name>.pid`.
 */
export function spawnManaged(
  dir: string,
  name: string,
  file: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): ManagedProcess {
  const logDir = join(dir, 'logs');
  const pidDir = join(dir, 'pids');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(pidDir, { recursive: true });
  const logPath = join(logDir, `${name}.log`);
  const pidPath = join(pidDir, `${name}.pid`);
  const fd = openSync(logPath, 'a');
  writeFileSync(fd, `\n==== ${new Date().toISOString()} start: ${file} ${args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? dir,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn ${name}: ${file}`);
  writeFileSync(pidPath, `${pid}\n`);
  child.unref();
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedPromise = new Promise<void>((r) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      r();
    });
    child.once('error', () => {
      status ??= { code: null, signal: null };
      r();
    });
  });
  const killOnExit = opts.killOnExit ?? true;
  if (killOnExit) {
    installExitHook();
    killOnExitPids.add(pid);
  }
  const proc: ManagedProcess = {
    name,
    pid,
    logPath,
    pidPath,
    exited: () => status !== undefined,
    exitStatus: () => status,
    async stop(graceMs = 10_000) {
      const signalGroup = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-pid, sig);
        } catch {
          // group gone
        }
      };
      if (status === undefined) {
        signalGroup('SIGTERM');
        const done = await Promise.race([exitedPromise.then(() => true), sleep(graceMs).then(() => false)]);
        if (!done) {
          signalGroup('SIGKILL');
          await Promise.race([exitedPromise, sleep(5_000)]);
        }
      }
      // Children of the group (e.g. a plugin started through sh) may outlive the leader.
      signalGroup('SIGKILL');
      killOnExitPids.delete(pid);
      live.delete(proc);
      rmSync(pidPath, { force: true });
    },
  };
  live.add(proc);
  return proc;
}

/**
 * Stops every process started through this module (newest first: apiserver, plugin, etcd).
 * Run dirs are deleted only when `failed === false` and KUBEKMS_KEEP_DIRS is not set; otherwise their paths
 * are printed so the logs can be read.
 */
export async function cleanup(opts: { failed?: boolean } = {}): Promise<void> {
  for (const p of [...live].reverse()) await p.stop();
  const remove = opts.failed === false && !process.env.KUBEKMS_KEEP_DIRS;
  for (const d of runDirs) {
    if (remove) await rm(d, { recursive: true, force: true });
    else console.error(`kubekms control plane: logs kept in ${d}/logs`);
  }
  runDirs.clear();
}

// ---------------------------------------------------------------------------------------------------------
// PKI (openssl)
// ---------------------------------------------------------------------------------------------------------

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** CN=kubekms-admin, O=system:masters (bypasses RBAC). */
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key pair. */
  saKey: string;
  saPub: string;
}

const SERVER_SANS = [
  'IP:127.0.0.1',
  'IP:10.0.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', args);
}

async function signCert(
  pki: { dir: string; caCert: string; caKey: string },
  base: string,
  subj: string,
  ext: string[],
): Promise<{ cert: string; key: string }> {
  const key = join(pki.dir, `${base}.key`);
  const csr = join(pki.dir, `${base}.csr`);
  const cert = join(pki.dir, `${base}.crt`);
  const extFile = join(pki.dir, `${base}.ext`);
  writeFileSync(extFile, ext.join('\n') + '\n');
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subj]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Generates everything the apiserver needs into `<dir>/pki` (RSA 2048, valid 30 days). */
export async function createPki(dir: string): Promise<Pki> {
  const pdir = join(dir, 'pki');
  mkdirSync(pdir, { recursive: true });
  const caCert = join(pdir, 'ca.crt');
  const caKey = join(pdir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '30',
    '-subj',
    '/CN=kubekms-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const base = { dir: pdir, caCert, caKey };
  const server = await signCert(base, 'apiserver', '/CN=kube-apiserver', [
    `subjectAltName=${SERVER_SANS.join(',')}`,
    'extendedKeyUsage=serverAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  const admin = await signCert(base, 'admin', '/CN=kubekms-admin/O=system:masters', [
    'extendedKeyUsage=clientAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  const saKey = join(pdir, 'sa.key');
  const saPub = join(pdir, 'sa.pub');
  await openssl(['genrsa', '-out', saKey, '2048']);
  await openssl(['rsa', '-in', saKey, '-pubout', '-out', saPub]);
  return {
    dir: pdir,
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    saKey,
    saPub,
  };
}

/** A client certificate for `user` in `groups` (RBAC applies unless a group is system:masters). */
export async function createClientCert(
  pki: Pki,
  name: string,
  user: string,
  groups: readonly string[] = [],
): Promise<{ cert: string; key: string }> {
  const subj = `/CN=${user}` + groups.map((g) => `/O=${g}`).join('');
  return signCert(pki, `client-${name}`, subj, [
    'extendedKeyUsage=clientAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
}

// ---------------------------------------------------------------------------------------------------------
// etcd
// ---------------------------------------------------------------------------------------------------------

export interface Etcd {
  /** `http://127.0.0.1:<port>` (plain http on loopback). */
  endpoint: string;
  dataDir: string;
  process: ManagedProcess;
  /** Raw value bytes of `key`, or undefined when absent. Binary-safe (etcdctl -w json + base64). */
  get(key: string): Promise<Buffer | undefined>;
  /** All keys under `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  /** All key/value pairs under `prefix`. */
  getPrefix(prefix: string): Promise<Map<string, Buffer>>;
  put(key: string, value: string | Buffer): Promise<void>;
  del(key: string): Promise<void>;
  /** Runs etcdctl against this etcd and returns stdout. */
  etcdctl(args: readonly string[], input?: string | Buffer): Promise<Buffer>;
  stop(): Promise<void>;
}

interface EtcdJsonKv {
  key?: string;
  value?: string;
}

export async function startEtcd(
  dir: string,
  opts: { name?: string; etcd?: string; etcdctl?: string; killOnExit?: boolean; timeoutMs?: number } = {},
): Promise<Etcd> {
  const b = opts.etcd && opts.etcdctl ? { etcd: opts.etcd, etcdctl: opts.etcdctl } : binaries('1.36');
  const name = opts.name ?? 'etcd';
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = join(dir, `${name}-data`);
  const proc = spawnManaged(
    dir,
    name,
    b.etcd,
    [
      '--name',
      name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${name}=${peer}`,
      '--unsafe-no-fsync',
      '--log-level',
      'warn',
    ],
    opts.killOnExit === undefined ? {} : { killOnExit: opts.killOnExit },
  );
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/health`);
      if (res.ok && ((await res.json()) as { health?: string }).health === 'true') break;
    } catch {
      // not listening yet
    }
    if (proc.exited() || Date.now() > deadline) {
      await proc.stop();
      throw new Error(
        `etcd did not become healthy on ${endpoint}; log ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    await sleep(100);
  }
  const etcdctl = async (args: readonly string[], input?: string | Buffer): Promise<Buffer> =>
    (await run(b.etcdctl, [`--endpoints=${endpoint}`, ...args], input === undefined ? {} : { input })).stdout;
  const getPrefix = async (prefix: string): Promise<Map<string, Buffer>> => {
    const out = JSON.parse((await etcdctl(['get', '--prefix', '-w', 'json', prefix])).toString('utf8')) as {
      kvs?: EtcdJsonKv[];
    };
    const m = new Map<string, Buffer>();
    for (const kv of out.kvs ?? [])
      m.set(Buffer.from(kv.key ?? '', 'base64').toString('utf8'), Buffer.from(kv.value ?? '', 'base64'));
    return m;
  };
  return {
    endpoint,
    dataDir,
    process: proc,
    etcdctl,
    async get(key) {
      const out = JSON.parse((await etcdctl(['get', '-w', 'json', key])).toString('utf8')) as {
        kvs?: EtcdJsonKv[];
      };
      const kv = out.kvs?.[0];
      return kv ? Buffer.from(kv.value ?? '', 'base64') : undefined;
    },
    async keys(prefix) {
      const out = JSON.parse(
        (await etcdctl(['get', '--prefix', '--keys-only', '-w', 'json', prefix])).toString('utf8'),
      ) as { kvs?: EtcdJsonKv[] };
      return (out.kvs ?? []).map((kv) => Buffer.from(kv.key ?? '', 'base64').toString('utf8')).sort();
    },
    getPrefix,
    async put(key, value) {
      await etcdctl(['put', key], value);
    },
    async del(key) {
      await etcdctl(['del', key]);
    },
    stop: () => proc.stop(),
  };
}

/** Storage key of a namespaced object under the default `--etcd-prefix=/registry`. */
export function etcdKey(resource: string, namespace: string, name: string): string {
  return `/registry/${resource}/${namespace}/${name}`;
}

// ---------------------------------------------------------------------------------------------------------
// Encryption configuration and the KMS plugin
// ---------------------------------------------------------------------------------------------------------

export interface EncryptionConfigOptions {
  /** Absolute path of the plugin's unix socket. */
  socket: string;
  /** Provider name; goes into the etcd prefix `k8s:enc:kms:v2:<name>:`. Default 'kubekms'. */
  name?: string;
  /** Default '3s'. */
  timeout?: string;
  /** Default ['secrets']. */
  resources?: readonly string[];
}

/** An apiserver.config.k8s.io/v1 EncryptionConfiguration: kms v2 first (writes), identity second (reads). */
export function encryptionConfigYaml(o: EncryptionConfigOptions): string {
  const resources = o.resources ?? ['secrets'];
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: EncryptionConfiguration',
    'resources:',
    `  - resources: [${resources.map((r) => JSON.stringify(r)).join(', ')}]`,
    '    providers:',
    '      - kms:',
    '          apiVersion: v2',
    `          name: ${JSON.stringify(o.name ?? 'kubekms')}`,
    `          endpoint: ${JSON.stringify(`unix://${o.socket}`)}`,
    `          timeout: ${o.timeout ?? '3s'}`,
    '      - identity: {}',
    '',
  ].join('\n');
}

export interface PluginPaths {
  /** The run dir. */
  dir: string;
  socket: string;
  dataDir: string;
  /** host:port for the plugin's health/metrics listener. */
  healthListen: string;
}

/** `node <repo>/src/cli/main.ts serve --dev --data-dir … --kms-socket … --health-listen …`. */
export function defaultPluginCommand(p: PluginPaths): string[] {
  return [
    process.execPath,
    join(REPO_ROOT, 'src', 'cli', 'main.ts'),
    'serve',
    '--dev',
    '--data-dir',
    p.dataDir,
    '--kms-socket',
    p.socket,
    '--health-listen',
    p.healthListen,
  ];
}

export interface PluginOptions {
  dir: string;
  /**
   * argv (no shell), or a shell command line run as `sh -c "exec <cmd>"` in which {socket}, {dataDir},
   * {healthListen} and {dir} are substituted (they are also exported as KUBEKMS_SOCKET, KUBEKMS_DATA_DIR,
   * KUBEKMS_HEALTH_LISTEN, KUBEKMS_RUN_DIR). Default: env KUBEKMS_PLUGIN_CMD, else defaultPluginCommand().
   */
  command?: readonly string[] | string | ((p: PluginPaths) => readonly string[]);
  /** Default `<dir>/kms.sock`. */
  socket?: string;
  /** Default `<dir>/kubekms-data`. */
  dataDir?: string;
  name?: string;
  env?: NodeJS.ProcessEnv;
  killOnExit?: boolean;
  /** How long to wait for the socket to accept connections. Default 60 s. */
  timeoutMs?: number;
}

export interface Plugin extends PluginPaths {
  process: ManagedProcess;
  /** Stops the plugin (the socket file is left for the plugin to clean up). */
  stop(): Promise<void>;
  /** Stops and starts it again with the same command and paths; waits for the socket. */
  restart(): Promise<Plugin>;
}

function socketAccepts(path: string): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

export async function startPlugin(o: PluginOptions): Promise<Plugin> {
  const socket = o.socket ?? join(o.dir, 'kms.sock');
  if (Buffer.byteLength(socket) > 100)
    throw new Error(`KMS socket path too long for sun_path (${socket}); use a shorter run dir`);
  const paths: PluginPaths = {
    dir: o.dir,
    socket,
    dataDir: o.dataDir ?? join(o.dir, 'kubekms-data'),
    healthListen: `127.0.0.1:${await freePort()}`,
  };
  mkdirSync(paths.dataDir, { recursive: true });
  const name = o.name ?? 'kubekms';
  const command = o.command ?? process.env.KUBEKMS_PLUGIN_CMD ?? defaultPluginCommand;
  const env: NodeJS.ProcessEnv = {
    ...(o.env ?? process.env),
    KUBEKMS_SOCKET: paths.socket,
    KUBEKMS_DATA_DIR: paths.dataDir,
    KUBEKMS_HEALTH_LISTEN: paths.healthListen,
    KUBEKMS_RUN_DIR: paths.dir,
  };
  let file: string;
  let args: readonly string[];
  if (typeof command === 'string') {
    const line = command
      .replaceAll('{socket}', paths.socket)
      .replaceAll('{dataDir}', paths.dataDir)
      .replaceAll('{healthListen}', paths.healthListen)
      .replaceAll('{dir}', paths.dir);
    file = '/bin/sh';
    args = ['-c', `exec ${line}`];
  } else {
    const argv = typeof command === 'function' ? command(paths) : command;
    if (!argv[0]) throw new Error('empty plugin command');
    file = argv[0];
    args = argv.slice(1);
  }
  const spawnOpts: SpawnOptions = { env, cwd: REPO_ROOT };
  if (o.killOnExit !== undefined) spawnOpts.killOnExit = o.killOnExit;
  const proc = spawnManaged(o.dir, name, file, args, spawnOpts);
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (!(existsSync(paths.socket) && (await socketAccepts(paths.socket)))) {
    if (proc.exited() || Date.now() > deadline) {
      await proc.stop();
      throw new Error(
        `KMS plugin did not listen on ${paths.socket} (${proc.exited() ? `exited ${JSON.stringify(proc.exitStatus())}` : 'timeout'}); log ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    await sleep(100);
  }
  const plugin: Plugin = {
    ...paths,
    process: proc,
    stop: () => proc.stop(),
    async restart() {
      await proc.stop();
      return startPlugin({ ...o, socket: paths.socket, dataDir: paths.dataDir });
    },
  };
  return plugin;
}

// ---------------------------------------------------------------------------------------------------------
// kube-apiserver
// ---------------------------------------------------------------------------------------------------------

export interface ApiserverOptions {
  dir: string;
  etcd: Etcd | { endpoint: string };
  /** Default '1.36'. */
  version?: KubeVersion;
  /** EncryptionConfiguration YAML; written to `<dir>/encryption-config.yaml` (automatic reload enabled). */
  encryptionConfig?: string;
  /** Appended last (a later `--flag=` wins over the defaults). */
  extraArgs?: readonly string[];
  /** Default: created with createPki(dir) (or reused if `<dir>/pki/ca.crt` exists). */
  pki?: Pki;
  /** Process/log name. Default 'kube-apiserver'. */
  name?: string;
  /** Wait for /readyz before returning. Default true (120 s). */
  waitReady?: boolean | number;
  killOnExit?: boolean;
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface Apiserver {
  url: string;
  port: number;
  version: KubeVersion;
  kubeconfigPath: string;
  logPath: string;
  /** Undefined when started without encryption. */
  encryptionConfigPath: string | undefined;
  pki: Pki;
  process(): ManagedProcess;
  /** Polls /readyz with the admin cert; throws with /readyz?verbose and the log tail. Default 120 s. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** stop() then start with the same flags and port; waits for readiness unless `waitReady: false`. */
  restart(opts?: { waitReady?: boolean; timeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
  /** Runs kubectl (v1.36 build) with this kubeconfig; returns stdout; throws with stderr. */
  kubectl(args: readonly string[], opts?: { input?: string }): Promise<string>;
  /** GET (or other method) with the admin client cert. */
  request(path: string, opts?: { method?: string; body?: string; contentType?: string }): Promise<HttpResult>;
  /** Text of /metrics. */
  metrics(): Promise<string>;
  /** Replaces the encryption config file (picked up by automatic reload within ~1 min, or by restart()). */
  writeEncryptionConfig(yaml: string): void;
}

function kubeconfigYaml(url: string, pki: Pki): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kubekms-test',
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority: ${pki.caCert}`,
    'users:',
    '- name: admin',
    '  user:',
    `    client-certificate: ${pki.adminCert}`,
    `    client-key: ${pki.adminKey}`,
    'contexts:',
    '- name: kubekms-test',
    '  context: {cluster: kubekms-test, user: admin}',
    'current-context: kubekms-test',
    '',
  ].join('\n');
}

async function loadPki(dir: string): Promise<Pki | undefined> {
  const p = join(dir, 'pki');
  if (!existsSync(join(p, 'ca.crt')) || !existsSync(join(p, 'admin.crt'))) return undefined;
  return {
    dir: p,
    caCert: join(p, 'ca.crt'),
    caKey: join(p, 'ca.key'),
    serverCert: join(p, 'apiserver.crt'),
    serverKey: join(p, 'apiserver.key'),
    adminCert: join(p, 'admin.crt'),
    adminKey: join(p, 'admin.key'),
    saKey: join(p, 'sa.key'),
    saPub: join(p, 'sa.pub'),
  };
}

export async function startApiserver(o: ApiserverOptions): Promise<Apiserver> {
  const version = o.version ?? '1.36';
  const b = binaries(version);
  const pki = o.pki ?? (await loadPki(o.dir)) ?? (await createPki(o.dir));
  const name = o.name ?? 'kube-apiserver';
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = join(o.dir, name === 'kube-apiserver' ? 'kubeconfig' : `${name}.kubeconfig`);
  writeFileSync(kubeconfigPath, kubeconfigYaml(url, pki));
  let encryptionConfigPath: string | undefined;
  if (o.encryptionConfig !== undefined) {
    encryptionConfigPath = join(
      o.dir,
      name === 'kube-apiserver' ? 'encryption-config.yaml' : `${name}.encryption-config.yaml`,
    );
    writeFileSync(encryptionConfigPath, o.encryptionConfig);
  }
  const args = [
    `--etcd-servers=${o.etcd.endpoint}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(o.dir, `${name}-certs`)}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-issuer=https://127.0.0.1:${port}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=RBAC',
    // No controller-manager runs: nothing would create the `default` ServiceAccount.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    // Do not maintain the `kubernetes` Service endpoints (a loopback IP is rejected, log noise only).
    '--endpoint-reconciler-type=none',
    ...(encryptionConfigPath
      ? [
          `--encryption-provider-config=${encryptionConfigPath}`,
          '--encryption-provider-config-automatic-reload=true',
        ]
      : []),
    // v=2: the only level at which the apiserver logs *why* the kms-providers check fails
    // (readyz says "reason withheld"; at v=1 nothing is logged).
    '--v=2',
    ...(o.extraArgs ?? []),
  ];
  const spawnOpts: SpawnOptions = o.killOnExit === undefined ? {} : { killOnExit: o.killOnExit };
  let proc = spawnManaged(o.dir, name, b.kubeApiserver, args, spawnOpts);

  const request = (
    path: string,
    ro: { method?: string; body?: string; contentType?: string } = {},
  ): Promise<HttpResult> =>
    new Promise((resolveReq, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: ro.method ?? 'GET',
          ca: readFileSync(pki.caCert),
          cert: readFileSync(pki.adminCert),
          key: readFileSync(pki.adminKey),
          servername: 'localhost',
          headers: ro.contentType ? { 'content-type': ro.contentType } : {},
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolveReq({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${path}`)));
      req.on('error', reject);
      req.end(ro.body);
    });

  const waitReady = async (timeoutMs = 120_000): Promise<void> => {
    const started = Date.now();
    for (;;) {
      try {
        const r = await request('/readyz');
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (proc.exited()) {
        throw new Error(
          `${name} exited ${JSON.stringify(proc.exitStatus())} before ready; log ${proc.logPath}:\n${tail(proc.logPath)}`,
        );
      }
      if (Date.now() - started > timeoutMs) {
        let verbose = '(unreachable)';
        try {
          verbose = (await request('/readyz?verbose')).body;
        } catch {
          // keep placeholder
        }
        throw new Error(
          `${name} not ready after ${timeoutMs} ms:\n${verbose}\n` +
            `last KMS errors:\n${kmsErrors(proc.logPath)}\nlog ${proc.logPath}:\n${tail(proc.logPath, 30)}`,
        );
      }
      await sleep(250);
    }
  };

  const api: Apiserver = {
    url,
    port,
    version,
    kubeconfigPath,
    logPath: proc.logPath,
    encryptionConfigPath,
    pki,
    process: () => proc,
    waitReady,
    async stop() {
      await proc.stop();
    },
    async restart(ro = {}) {
      await proc.stop();
      proc = spawnManaged(o.dir, name, b.kubeApiserver, args, spawnOpts);
      if (ro.waitReady ?? true) await waitReady(ro.timeoutMs);
    },
    async kubectl(kargs, ko = {}) {
      const r = await run(
        b.kubectl,
        [`--kubeconfig=${kubeconfigPath}`, ...kargs],
        ko.input === undefined ? {} : { input: ko.input },
      );
      return r.stdout.toString('utf8');
    },
    request,
    async metrics() {
      const r = await request('/metrics');
      if (r.status !== 200) throw new Error(`/metrics: HTTP ${r.status}: ${r.body}`);
      return r.body;
    },
    writeEncryptionConfig(yaml) {
      if (!encryptionConfigPath) throw new Error('apiserver was started without an encryption config');
      // Atomic replace so the reload never sees a half-written file.
      const tmp = `${encryptionConfigPath}.tmp`;
      writeFileSync(tmp, yaml);
      renameSync(tmp, encryptionConfigPath);
    },
  };
  const wr = o.waitReady ?? true;
  if (wr !== false) {
    try {
      await waitReady(typeof wr === 'number' ? wr : undefined);
    } catch (e) {
      await proc.stop();
      throw e;
    }
  }
  return api;
}

// ---------------------------------------------------------------------------------------------------------
// Everything together
// ---------------------------------------------------------------------------------------------------------

export interface ControllerManagerOptions {
  dir: string;
  apiserver: Apiserver;
  /**
   * Default: the garbage collector and the storage-version-migrator (which needs the collector's informers); kube
   * 1.37's names (cmd/kube-controller-manager/names).
   */
  controllers?: readonly string[];
  extraArgs?: readonly string[];
  name?: string;
  killOnExit?: boolean;
}

/**
 * kube-controller-manager 1.37 (built with its apiserver) on the apiserver's admin kubeconfig: no leader election,
 * no serving port (nothing scrapes it), `--v=2`. Returns at once; what it does shows in the API (e.g. the
 * conditions of a StorageVersionMigration).
 */
export function startControllerManager(o: ControllerManagerOptions): ManagedProcess {
  const b = binaries('1.37');
  const controllers = o.controllers ?? [
    'garbage-collector-controller',
    'storage-version-migrator-controller',
  ];
  const args = [
    `--kubeconfig=${o.apiserver.kubeconfigPath}`,
    `--controllers=${controllers.join(',')}`,
    '--leader-elect=false',
    '--secure-port=0',
    '--v=2',
    ...(o.extraArgs ?? []),
  ];
  return spawnManaged(
    o.dir,
    o.name ?? 'kube-controller-manager',
    b.kubeControllerManager,
    args,
    o.killOnExit === undefined ? {} : { killOnExit: o.killOnExit },
  );
}

export interface ControlPlaneOptions {
  /** Default: createRunDir(). */
  dir?: string;
  version?: KubeVersion;
  /** false: no plugin and no encryption config. Default: start one (see PluginOptions.command). */
  plugin?: false | Omit<PluginOptions, 'dir'>;
  /** Options for encryptionConfigYaml (socket is filled in). */
  encryption?: Omit<EncryptionConfigOptions, 'socket'>;
  extraApiserverArgs?: readonly string[];
  /** Apiserver readiness budget. Default 120 s. */
  readyTimeoutMs?: number;
  killOnExit?: boolean;
}

export interface ControlPlane {
  dir: string;
  pki: Pki;
  etcd: Etcd;
  plugin: Plugin | undefined;
  apiserver: Apiserver;
  kubeconfigPath: string;
  /** Stops apiserver, plugin, etcd (in that order). Does not delete the dir; see cleanup(). */
  stop(): Promise<void>;
}

/** etcd, then the KMS plugin, then kube-apiserver (ready), all in one run dir. */
export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const dir = o.dir ?? createRunDir();
  mkdirSync(dir, { recursive: true });
  const pki = (await loadPki(dir)) ?? (await createPki(dir));
  const etcd = await startEtcd(dir, o.killOnExit === undefined ? {} : { killOnExit: o.killOnExit });
  let plugin: Plugin | undefined;
  try {
    if (o.plugin !== false) {
      const po: PluginOptions = { ...(o.plugin ?? {}), dir };
      if (o.killOnExit !== undefined) po.killOnExit = o.killOnExit;
      plugin = await startPlugin(po);
    }
    const ao: ApiserverOptions = {
      dir,
      etcd,
      pki,
      version: o.version ?? '1.36',
      extraArgs: o.extraApiserverArgs ?? [],
      waitReady: o.readyTimeoutMs ?? true,
    };
    if (plugin)
      ao.encryptionConfig = encryptionConfigYaml({ ...(o.encryption ?? {}), socket: plugin.socket });
    if (o.killOnExit !== undefined) ao.killOnExit = o.killOnExit;
    const apiserver = await startApiserver(ao);
    return {
      dir,
      pki,
      etcd,
      plugin,
      apiserver,
      kubeconfigPath: apiserver.kubeconfigPath,
      async stop() {
        await apiserver.stop();
        await plugin?.stop();
        await etcd.stop();
      },
    };
  } catch (e) {
    await plugin?.stop();
    await etcd.stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// KMS v2 envelope as stored in etcd
// ---------------------------------------------------------------------------------------------------------

export interface EncryptedObject {
  /** Provider name from the `k8s:enc:kms:v2:<name>:` prefix. */
  providerName: string;
  /** Field 1. */
  encryptedData: Buffer;
  /** Field 2. */
  keyID: string;
  /** Field 3 (the plugin's ciphertext of the DEK or seed). */
  encryptedDEKSource: Buffer;
  /** Field 4. */
  annotations: Record<string, Buffer>;
  /** Field 5: 0 = AES_GCM_KEY, 1 = HKDF_SHA256_XNONCE_AES_GCM_SEED (the default since 1.29). */
  encryptedDEKSourceType: number;
}

export const KMS_V2_PREFIX = 'k8s:enc:kms:v2:';

type PbValue = bigint | Buffer;

/** Minimal protobuf walker: field number -> values (varint as bigint, length-delimited as Buffer). */
export function protobufFields(buf: Buffer): Map<number, PbValue[]> {
  const out = new Map<number, PbValue[]>();
  let i = 0;
  const varint = (): bigint => {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('protobuf: truncated varint');
      const byte = buf[i++] as number;
      r |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return r;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint too long');
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let v: PbValue;
    if (wire === 0) v = varint();
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new Error('protobuf: truncated length-delimited field');
      v = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      v = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`protobuf: unsupported wire type ${wire} (field ${field})`);
    if (field === 0) throw new Error('protobuf: field number 0');
    const list = out.get(field);
    if (list) list.push(v);
    else out.set(field, [v]);
  }
  return out;
}

function bytesField(m: Map<number, PbValue[]>, n: number): Buffer {
  const v = m.get(n)?.at(-1);
  if (v === undefined) return Buffer.alloc(0);
  if (typeof v === 'bigint') throw new Error(`protobuf: field ${n} is a varint, expected bytes`);
  return v;
}

/**
 * Decodes a raw etcd value written by a KMS v2 provider:
 * `k8s:enc:kms:v2:<providerName>:` + protobuf EncryptedObject
 * (k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2/v2/api.proto, checked at v0.36.3 and v0.31.14).
 */
export function decodeEncryptedObject(raw: Buffer): EncryptedObject {
  const head = raw.subarray(0, Math.min(raw.length, 300)).toString('latin1');
  if (!head.startsWith(KMS_V2_PREFIX)) {
    throw new Error(`not a KMS v2 value (starts with ${JSON.stringify(head.slice(0, 24))})`);
  }
  const end = head.indexOf(':', KMS_V2_PREFIX.length);
  if (end < 0) throw new Error('KMS v2 prefix has no terminating ":" after the provider name');
  const providerName = head.slice(KMS_V2_PREFIX.length, end);
  const m = protobufFields(raw.subarray(end + 1));
  const annotations: Record<string, Buffer> = {};
  for (const entry of m.get(4) ?? []) {
    if (typeof entry === 'bigint') throw new Error('protobuf: annotations entry is a varint');
    const e = protobufFields(entry);
    annotations[bytesField(e, 1).toString('utf8')] = Buffer.from(bytesField(e, 2));
  }
  const t = m.get(5)?.at(-1);
  return {
    providerName,
    encryptedData: Buffer.from(bytesField(m, 1)),
    keyID: bytesField(m, 2).toString('utf8'),
    encryptedDEKSource: Buffer.from(bytesField(m, 3)),
    annotations,
    encryptedDEKSourceType: typeof t === 'bigint' ? Number(t) : 0,
  };
}

/** Reads the log file of a run dir process (for assertions or debugging). */
export function readLog(dir: string, name: string): Promise<string> {
  return readFile(join(dir, 'logs', `${name}.log`), 'utf8');
}

/** The directory containing this harness (for scripts). */
export const HARNESS_DIR = HERE;
