import { describe, expect, it } from 'vitest';
import { exitCode, formatJson, formatTable, overallStatus, row } from './report.ts';

describe('report', () => {
  const rows = [
    row('socket', 'ok', '/run/k.sock (mode 0600): version v2'),
    row('root key', 'warn', 'development key'),
    row('instance node-a', 'FAIL', 'two\nlines\tand a tab'),
    row('api', 'skip', 'no kubeconfig'),
  ];

  it('prints aligned columns under a header, one line per row, details on one line', () => {
    expect(formatTable(rows)).toBe(
      [
        'CHECK            STATUS  DETAIL',
        'socket           ok      /run/k.sock (mode 0600): version v2',
        'root key         warn    development key',
        'instance node-a  FAIL    two lines and a tab',
        'api              skip    no kubeconfig',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [[row('a', 'ok', ''), row('b', 'warn', ''), row('c', 'skip', '')], 0, 'warn'],
    [[row('a', 'ok', ''), row('b', 'FAIL', '')], 1, 'FAIL'],
    [[row('a', 'skip', '')], 0, 'skip'],
    [[], 0, 'skip'],
  ] as const)('exit code and overall status of %j', (input, code, status) => {
    expect(exitCode(input)).toBe(code);
    expect(overallStatus(input)).toBe(status);
  });

  it('prints the same rows as JSON with the overall status and exit code', () => {
    const parsed = JSON.parse(formatJson(rows)) as unknown;
    expect(parsed).toEqual({
      status: 'FAIL',
      exitCode: 1,
      checks: rows.map((r) => ({ check: r.check, status: r.status, detail: r.detail })),
    });
  });
});
