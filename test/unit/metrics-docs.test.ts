/**
 * The metrics catalogue against the code: every metric kubekms registers is in docs/metrics.md (a `kubekms_` one as
 * a table row with its type), and every `kubekms_` name that the catalogue, docs/monitoring.md, the chart's alert
 * rules or its dashboard use is registered — so none of them names a metric that does not exist. Every alert rule
 * has a row in docs/monitoring.md and a promtool unit test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { controllerMetrics } from '../../src/kube/controller-metrics.ts';
import { registerKeyMetrics } from '../../src/observability/key-metrics.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { retiredDecryptsCounter } from '../../src/observability/retired-uses.ts';
import { reencryptMetrics } from '../../src/operator/reencrypt-metrics.ts';
import { registerStatusMetrics } from '../../src/operator/status-metrics.ts';
import { docTable } from '../doc-tables.ts';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Every metric of `serve --operator` except prom-client's process defaults, by name → type. */
async function registered(): Promise<Map<string, string>> {
  const { registry } = createMetrics({ processMetrics: false });
  registerKeyMetrics(registry, () => []);
  reencryptMetrics(registry);
  controllerMetrics(registry);
  registerStatusMetrics(registry, () => undefined);
  retiredDecryptsCounter(registry);
  const json = await registry.getMetricsAsJSON();
  return new Map(json.map((m) => [m.name, String(m.type)]));
}

/** Table rows of a markdown file: first cell without backticks → second cell. */
function rows(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').map((c) => c.trim());
    out.set(cells[1]!.replaceAll('`', ''), cells[2] ?? '');
  }
  return out;
}

/** The `kubekms_` metric names a text uses (histogram series folded into their metric). */
function kubekmsNames(text: string): Set<string> {
  return new Set(
    [...text.matchAll(/\bkubekms_[a-z0-9_]*[a-z0-9]/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')),
  );
}

describe('docs/metrics.md and the registry', () => {
  it('is built from every module that names a kubekms_ metric in src/', async () => {
    const src = readdirSync(new URL('../../src', import.meta.url), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => read(`src/${f}`))
      .join('\n');
    const named = [...src.matchAll(/'(kubekms_[a-z0-9_]+)'/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(10);
    const names = await registered();
    expect(named.filter((n) => !names.has(n))).toEqual([]);
  });

  it('lists every registered metric, a kubekms_ one in a table row with its type', async () => {
    const doc = read('docs/metrics.md');
    const table = rows(doc);
    const names = await registered();
    expect(names.size).toBeGreaterThan(20);
    for (const [name, type] of names) {
      if (name.startsWith('kubekms_')) expect({ name, type: table.get(name) }).toEqual({ name, type });
      else expect(doc, name).toMatch(new RegExp(`\`${name}[\`{]`));
    }
  });

  it.each([
    'docs/metrics.md',
    'docs/monitoring.md',
    'charts/kubekms/files/alerts.rules.yaml',
    'charts/kubekms/files/alerts.test.yaml',
    'charts/kubekms/files/dashboard.json',
  ])('%s names only registered kubekms_ metrics', async (path) => {
    const names = await registered();
    const unknown = [...kubekmsNames(read(path))].filter((n) => !names.has(n));
    expect(unknown).toEqual([]);
  });
});

describe('the alert rules', () => {
  const alerts = [...read('charts/kubekms/files/alerts.rules.yaml').matchAll(/- alert: (\w+)/g)].map(
    (m) => m[1],
  );

  it('are each in the Alerts table of docs/monitoring.md, and nothing else is', () => {
    expect(alerts.length).toBeGreaterThan(5);
    expect([...docTable('monitoring.md', 'Alerts').keys()].sort()).toEqual([...alerts].sort());
  });

  it('each have a promtool unit test (alerts.test.yaml)', () => {
    const tested = new Set(
      [...read('charts/kubekms/files/alerts.test.yaml').matchAll(/alertname: (\w+)/g)].map((m) => m[1]),
    );
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });
});
