/**
 * Monitoring against real tools (issue 7): the chart's alert rules pass `promtool test rules`, and a real
 * Prometheus (Debian's package) scrapes a running kubekms on loopback, loads the same rules, and sees
 * kubekms_kmsv2_requests_total move when KMS v2 requests are made; Prometheus accepts every query of the chart's
 * dashboard. `serve --audit-log FILE` writes the log there.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ApiserverLikeClient } from '../../src/kmsv2/testing/apiserver-client.ts';
import {
  createRunDir,
  defaultPluginCommand,
  freePort,
  type Plugin,
  REPO_ROOT,
  spawnManaged,
  startPlugin,
} from '../controlplane/harness.ts';
import { must } from '../packaging/exec.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import { waitFor } from './secrets.ts';

keepLogsOnFailure();

const RULES_DIR = join(REPO_ROOT, 'charts', 'kubekms', 'files');

describe('alert rules (promtool)', () => {
  it('are valid and pass their unit tests', async () => {
    expect(await must('promtool', ['check', 'rules', join(RULES_DIR, 'alerts.rules.yaml')])).toContain(
      'SUCCESS',
    );
    const out = await must('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: RULES_DIR });
    expect(out).toContain('SUCCESS');
  });
});

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface RuleList {
  data: { groups: { rules: { name: string; health: string }[] }[] };
}

describe('a real Prometheus scraping kubekms', () => {
  let plugin: Plugin;
  let prom: string;

  const api = async <T>(path: string): Promise<T> =>
    (await (await fetch(`http://${prom}${path}`)).json()) as T;
  async function scalar(expr: string): Promise<number | undefined> {
    const body = await api<{ status: string; data: { result: Sample[] } }>(
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result.length === 0 ? undefined : Number(body.data.result[0]!.value[1]);
  }

  beforeAll(async () => {
    const dir = createRunDir('kubekms-prom-');
    plugin = await startPlugin({ dir });
    prom = `127.0.0.1:${await freePort()}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: {scrape_interval: 1s, evaluation_interval: 1s}',
        `rule_files: [${JSON.stringify(join(RULES_DIR, 'alerts.rules.yaml'))}]`,
        'scrape_configs:',
        '  - job_name: kubekms',
        `    static_configs: [{targets: [${JSON.stringify(plugin.healthListen)}]}]`,
        '',
      ].join('\n'),
    );
    spawnManaged(dir, 'prometheus', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=${prom}`,
    ]);
    await waitFor(
      'prometheus ready',
      async () => ((await fetch(`http://${prom}/-/ready`)).status === 200 ? true : undefined),
      60_000,
      200,
    );
  }, 120_000);

  it('scrapes the target, loads the chart rules and sees the request counter move', async () => {
    await waitFor(
      'target up',
      async () => ((await scalar('up{job="kubekms"}')) === 1 ? true : undefined),
      30_000,
      250,
    );
    const ok = 'sum(kubekms_kmsv2_requests_total{job="kubekms",method=~"Encrypt|Decrypt",code="OK"})';
    const before = (await scalar(ok)) ?? 0;

    const client = new ApiserverLikeClient(plugin.socket);
    const seeds = Array.from({ length: 20 }, () => randomBytes(32));
    try {
      const { keyId } = await client.status();
      for (const seed of seeds) {
        const e = await client.encrypt(seed, keyId);
        expect(Buffer.from(await client.decrypt(e.ciphertext, e.keyId)).equals(Buffer.from(seed))).toBe(true);
      }
    } finally {
      client.close();
    }
    const after = await waitFor(
      'the counter to move by 40',
      async () => {
        const v = await scalar(ok);
        return v !== undefined && v >= before + 40 ? v : undefined;
      },
      30_000,
      250,
    );
    expect(after - before).toBe(40);
    expect(
      await scalar('sum(kubekms_kmsv2_request_duration_seconds_count{method="Decrypt"})'),
    ).toBeGreaterThanOrEqual(20);
    // Status was called: the health gauge is 1.
    await waitFor(
      'healthy 1',
      async () => ((await scalar('kubekms_kmsv2_healthy')) === 1 ? true : undefined),
      10_000,
      250,
    );

    const names = (await api<RuleList>('/api/v1/rules')).data.groups.flatMap((g) =>
      g.rules.map((r) => r.name),
    );
    expect(names).toContain('KubekmsPluginUnhealthy');
    expect(names).toContain('KubekmsLatencySLOBurn');
    await waitFor(
      'every rule evaluated ok',
      async () => {
        const all = (await api<RuleList>('/api/v1/rules')).data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((x) => x.health === 'ok') ? true : undefined;
      },
      15_000,
      250,
    );
    // Nothing fires (KubekmsPluginUnhealthy may be pending from scrapes before the first Status call, while
    // kubekms_kmsv2_healthy still reads 0; its `for: 1m` covers kube-apiserver's first Status poll).
    // The plugin's log has a line per Encrypt, and never a seed (base64 or hex).
    const log = readFileSync(plugin.process.logPath, 'utf8');
    expect(log).toContain('kmsv2 encrypt');
    for (const seed of seeds)
      for (const enc of ['base64', 'hex'] as const) expect(log).not.toContain(seed.toString(enc));
    const alerts = await api<{ data: { alerts: { state: string }[] } }>('/api/v1/alerts');
    expect(alerts.data.alerts.filter((a) => a.state === 'firing')).toEqual([]);
  });
});

describe('the chart dashboard on a real Prometheus', () => {
  it('has only queries that Prometheus accepts', async () => {
    const dashboard = JSON.parse(readFileSync(join(RULES_DIR, 'dashboard.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(20);
    const dir = createRunDir('kubekms-dash-');
    const addr = `127.0.0.1:${await freePort()}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, 'global: {scrape_interval: 1m}\n');
    const prometheus = spawnManaged(dir, 'prometheus', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=${addr}`,
    ]);
    onTestFinished(() => prometheus.stop());
    await waitFor(
      'prometheus ready',
      async () =>
        (await fetch(`http://${addr}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined,
      60_000,
      200,
    );
    const refused: string[] = [];
    for (const { panel, expr } of exprs) {
      const q = expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');
      const r = await fetch(`http://${addr}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await r.json()) as { status: string; error?: string };
      if (body.status !== 'success') refused.push(`${panel}: ${body.error}`);
    }
    expect(refused).toEqual([]);
  });
});

describe('serve --audit-log FILE', () => {
  it('writes every JSON log line to the file (not stdout), without seeds', async () => {
    const dir = createRunDir('kubekms-audit-');
    const file = join(dir, 'audit.log');
    const plugin = await startPlugin({
      dir,
      command: (p) => [...defaultPluginCommand(p), `--audit-log=${file}`, '--audit-log-max-size=1'],
    });
    const client = new ApiserverLikeClient(plugin.socket);
    const seeds = Array.from({ length: 10 }, () => randomBytes(32));
    try {
      const { keyId } = await client.status();
      for (const seed of seeds) await client.encrypt(seed, keyId);
    } finally {
      client.close();
    }
    await plugin.stop();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as { msg: string; uid?: string });
    expect(records.filter((r) => r.msg === 'kmsv2 encrypt' && typeof r.uid === 'string')).toHaveLength(10);
    expect(records.map((r) => r.msg)).toContain('stopped');
    const text = lines.join('\n');
    for (const seed of seeds) expect(text).not.toContain(seed.toString('base64'));
    expect(readFileSync(plugin.process.logPath, 'utf8')).not.toContain('kmsv2 encrypt');
  });
});
