/**
 * Start-up and idle memory of `kubekms serve` (issue 21): time from exec to the first 200 from /readyz (or /livez
 * where readiness needs an API that is not there), and resident memory after a few idle seconds, for plugin-only
 * serve on an existing keystore, with --aws-listen, and with --operator (its API unreachable: what it loads and
 * holds, not what it reconciles). The baseline, measured in the same run, is a bare Node process that serves one
 * HTTP endpoint. Each figure is the median of --runs starts.
 *
 *   node bench/startup.ts [--runs 5] [--idle 5] [--entry src|dist] [--before OTHER/dist/cli/main.js]
 *
 * `--entry dist` runs the built dist/cli/main.js (npm run build) as the container image does; the default runs
 * src/cli/main.ts as scripts/kubekms does (Node strips the types as it loads). `--before` also runs another
 * checkout's CLI (a commit to compare with), interleaved run by run with this one so load hits both alike.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs, httpOk, privateMiB, rssMiB, sleep } from './lib/process.ts';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    idle: { type: 'string', default: '25' },
    entry: { type: 'string', default: 'src' },
    before: { type: 'string' },
  },
});
const RUNS = Number(opts.runs);
const IDLE_MS = Number.parseFloat(opts.idle) * 1000;
const MAIN = fileURLToPath(
  new URL(opts.entry === 'dist' ? '../dist/cli/main.js' : '../src/cli/main.ts', import.meta.url),
);
/** The CLIs measured: this checkout, and the one to compare with. */
const MAINS: readonly (readonly [string, string])[] = opts.before
  ? [
      ['before', opts.before],
      ['after', MAIN],
    ]
  : [['', MAIN]];

const BARE = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.argv[1]), '127.0.0.1');`;

interface Sample {
  readonly readyMs: number;
  /** CPU (user + system) the process used until it answered: what a busy machine disturbs least. */
  readonly cpuMs: number;
  readonly rssMiB: number;
  /** The private part of RSS (RssAnon): what this process costs beyond the node binary's shared code pages. */
  readonly privateMiB: number;
}

let nextPort = 19_900 + Math.floor(Math.random() * 500);

/** Starts `args`, polls `path` on its port until 200, idles, reads RSS, stops it. */
async function sample(args: (port: number) => string[], path: string): Promise<Sample> {
  const port = nextPort++;
  const started = performance.now();
  const child = spawn(process.execPath, args(port), { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const deadline = started + 60_000;
    while (!(await httpOk(`http://127.0.0.1:${port}${path}`))) {
      if (performance.now() > deadline || child.exitCode !== null)
        throw new Error(`${args(port).join(' ')}: never ready`);
      await sleep(5);
    }
    const readyMs = performance.now() - started;
    const cpu = cpuMs(child.pid!);
    await sleep(IDLE_MS);
    return {
      readyMs,
      cpuMs: cpu,
      rssMiB: await rssMiB(child.pid!),
      privateMiB: await privateMiB(child.pid!),
    };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Args = (main: string) => (port: number) => string[];

/** The figures of this checkout (the last CLI measured). */
const thisCheckout = (xs: readonly Sample[]): Sample => xs[xs.length - 1]!;

/** Median figures of one scenario for each CLI, the CLIs taking turns run by run. */
async function scenario(name: string, args: Args, path: string): Promise<Sample[]> {
  const samples: Sample[][] = MAINS.map(() => []);
  for (let i = 0; i < RUNS; i++)
    for (const [j, [, main]] of MAINS.entries()) samples[j]!.push(await sample(args(main), path));
  return MAINS.map(([label], j) => {
    const xs = samples[j]!;
    const s = {
      readyMs: median(xs.map((x) => x.readyMs)),
      cpuMs: median(xs.map((x) => x.cpuMs)),
      rssMiB: median(xs.map((x) => x.rssMiB)),
      privateMiB: median(xs.map((x) => x.privateMiB)),
    };
    console.log(
      `${`${name}${label ? ` (${label})` : ''}`.padEnd(43)} ${path.padEnd(7)} ${(s.readyMs / 1000).toFixed(3).padStart(6)} s  ${(s.cpuMs / 1000).toFixed(2).padStart(5)} s cpu  ${s.rssMiB.toFixed(0).padStart(4)} MiB ${s.privateMiB.toFixed(0).padStart(4)} MiB   (${xs.map((x) => (x.readyMs / 1000).toFixed(2)).join(' ')})`,
    );
    return s;
  });
}

const dir = await mkdtemp(join(tmpdir(), 'kubekms-startup-'));
try {
  const data = join(dir, 'data');
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
      'users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  const serve =
    (extra: string[]): Args =>
    (main) =>
    (port) => [
      main,
      'serve',
      '--dev',
      '--data-dir',
      data,
      '--kms-socket',
      join(dir, 'kms.sock'),
      '--health-listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...extra,
    ];
  // The keystore exists before the timed runs (a restart, as on a control-plane node).
  await sample(serve([])(MAIN), '/readyz');
  console.log(
    `node ${process.version}, ${RUNS} runs each, RSS after ${IDLE_MS / 1000} s idle, entry ${opts.entry}`,
  );
  console.log(
    `${'scenario'.padEnd(34)} ${'until'.padEnd(7)} ${'exec→ok'.padStart(8)}  ${'cpu'.padStart(9)}   ${'RSS'.padStart(8)} ${'private'.padStart(8)}`,
  );
  const bare = thisCheckout(
    await scenario('bare node (one HTTP endpoint)', () => (port) => ['-e', BARE, String(port)], '/'),
  );
  const plugin = thisCheckout(await scenario('serve, plugin only', serve([]), '/readyz'));
  const aws = thisCheckout(
    await scenario('serve --aws-listen', serve(['--aws-listen', '127.0.0.1:0']), '/readyz'),
  );
  const operator = thisCheckout(
    await scenario(
      'serve --operator (API unreachable)',
      serve(['--operator', '--kubeconfig', kubeconfig]),
      '/livez',
    ),
  );
  console.log(
    `\nplugin only: /readyz ${(plugin.readyMs / 1000).toFixed(3)} s, ${(plugin.cpuMs / 1000).toFixed(2)} s of CPU (target ≤ 0.4 s; bare node ${(bare.readyMs / 1000).toFixed(3)} s, ${(bare.cpuMs / 1000).toFixed(2)} s of CPU), ` +
      `idle RSS ${plugin.rssMiB.toFixed(0)} MiB (target ≤ 80; bare node ${bare.rssMiB.toFixed(0)}), of it private ${plugin.privateMiB.toFixed(0)} MiB (bare node ${bare.privateMiB.toFixed(0)}); ` +
      `--aws-listen ${aws.rssMiB.toFixed(0)} MiB; --operator ${operator.rssMiB.toFixed(0)} MiB (target ≤ 150)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
