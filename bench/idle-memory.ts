/**
 * Whether the KMS v2 plugin gives memory back after a burst of calls (ADR 0027): resident memory of the real plugin
 * (bench/kmsv2-server.ts) idle after start-up, at the end of a burst (Decrypt then Encrypt at concurrency 64), and
 * after an idle pause. `--baseline DIR` measures another checkout's plugin the same way in the same run (DIR as
 * for bench/kmsv2.ts: `git archive <commit> src bench package.json tsconfig.json`, node_modules linked).
 *   node bench/idle-memory.ts [--burst 12] [--idle 25] [--baseline DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTarget, type Target } from './lib/kmsv2-target.ts';
import { runLoad } from './lib/load.ts';
import { privateMiB, rssMiB, sleep } from './lib/process.ts';

const { values: opts } = parseArgs({
  options: {
    burst: { type: 'string', default: '12' },
    idle: { type: 'string', default: '25' },
    baseline: { type: 'string' },
  },
});
const BURST_MS = Number(opts.burst) * 1000;
const IDLE_MS = Number(opts.idle) * 1000;

const memory = async (pid: number): Promise<string> =>
  `${(await rssMiB(pid)).toFixed(0)} MiB (private ${(await privateMiB(pid)).toFixed(0)})`;

async function measure(name: string, start: () => Promise<Target>): Promise<void> {
  const t = await start();
  try {
    await sleep(IDLE_MS);
    const idle = await memory(t.pid);
    await runLoad(t.calls.Decrypt, 64, (BURST_MS * 2) / 3);
    await runLoad(t.calls.Encrypt, 64, BURST_MS / 3);
    const loaded = await memory(t.pid);
    await sleep(IDLE_MS);
    console.log(`| ${name} | ${idle} | ${loaded} | ${await memory(t.pid)} |`);
  } finally {
    await t.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'kubekms-idle-memory-'));
try {
  console.log(
    `KMS v2 plugin, ${IDLE_MS / 1000} s idle, a ${BURST_MS / 1000} s burst at concurrency 64, ${IDLE_MS / 1000} s idle; Node ${process.version}`,
  );
  console.log(
    '| plugin | idle after start | end of the burst | idle after the burst |\n|---|---:|---:|---:|',
  );
  await measure('this checkout', () => startTarget('kubekms', dir));
  if (opts.baseline) {
    const checkout = opts.baseline;
    await measure('baseline', () => startTarget('kubekms', dir, { name: 'baseline', checkout }));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
