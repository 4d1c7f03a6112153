/**
 * The doctor's result: rows of CHECK | STATUS | DETAIL, printed as a table or as JSON, and the exit code they
 * imply (0 when nothing FAILs, 1 otherwise). Pure.
 */

export const STATUSES = ['ok', 'warn', 'FAIL', 'skip'] as const;
export type CheckStatus = (typeof STATUSES)[number];

export interface CheckRow {
  /** The check's name, e.g. `socket` or `instance node-a`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** One line for people; never key material. */
  readonly detail: string;
}

export const row = (check: string, status: CheckStatus, detail: string): CheckRow => ({
  check,
  status,
  detail,
});

/** 1 when any row FAILs, else 0. */
export function exitCode(rows: readonly CheckRow[]): 0 | 1 {
  return rows.some((r) => r.status === 'FAIL') ? 1 : 0;
}

/** The worst status of the rows: FAIL > warn > ok > skip (an empty list is skip). */
export function overallStatus(rows: readonly CheckRow[]): CheckStatus {
  const rank: Record<CheckStatus, number> = { skip: 0, ok: 1, warn: 2, FAIL: 3 };
  let worst: CheckStatus = 'skip';
  for (const r of rows) if (rank[r.status] > rank[worst]) worst = r.status;
  return worst;
}

/** Newlines and tabs in a detail would break the table: shown as spaces. */
const oneLine = (s: string): string => s.replace(/[\r\n\t]+/g, ' ').trim();

/** A fixed-width table with a header line; the DETAIL column is not padded. */
export function formatTable(rows: readonly CheckRow[]): string {
  const header: CheckRow = { check: 'CHECK', status: 'STATUS' as CheckStatus, detail: 'DETAIL' };
  const all = [header, ...rows.map((r) => ({ ...r, check: oneLine(r.check), detail: oneLine(r.detail) }))];
  const w1 = Math.max(...all.map((r) => r.check.length));
  const w2 = Math.max(...all.map((r) => r.status.length));
  return (
    all.map((r) => `${r.check.padEnd(w1)}  ${r.status.padEnd(w2)}  ${r.detail}`.trimEnd()).join('\n') + '\n'
  );
}

/** `{"status": worst, "exitCode": n, "checks": [{check, status, detail}, …]}` with a final newline. */
export function formatJson(rows: readonly CheckRow[]): string {
  const out = {
    status: overallStatus(rows),
    exitCode: exitCode(rows),
    checks: rows.map((r) => ({ check: r.check, status: r.status, detail: r.detail })),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}
