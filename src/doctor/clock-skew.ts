/**
 * The clock skew check: the API server's `Date` header against the local clock. The header has one-second
 * resolution, so the server's clock was somewhere in [Date, Date + 1 s) while the request ran from `sentAt` to
 * `receivedAt`; the skew is the smallest distance between those two intervals. Pure.
 */
import { type CheckRow, row } from './report.ts';

export const SKEW_WARN_MS = 5_000;
export const SKEW_FAIL_MS = 60_000;

/** Signed skew in ms (positive: the API server is ahead), 0 when the intervals overlap; undefined if unparseable. */
export function clockSkewMs(
  dateHeader: string | undefined,
  sentAt: number,
  receivedAt: number,
): number | undefined {
  if (!dateHeader) return undefined;
  const server = Date.parse(dateHeader);
  if (!Number.isFinite(server)) return undefined;
  if (server + 1000 <= sentAt) return server + 1000 - sentAt; // server behind
  if (server > receivedAt) return server - receivedAt; // server ahead
  return 0;
}

export function clockSkewRow(dateHeader: string | undefined, sentAt: number, receivedAt: number): CheckRow {
  const skew = clockSkewMs(dateHeader, sentAt, receivedAt);
  if (skew === undefined)
    return row(
      'clock skew',
      'warn',
      dateHeader
        ? `unreadable Date header ${JSON.stringify(dateHeader)}`
        : 'the API server sent no Date header',
    );
  const abs = Math.abs(skew);
  const text =
    abs === 0
      ? 'API server and local clock agree to within 1 s (Date header resolution)'
      : `API server clock ${(abs / 1000).toFixed(1)} s ${skew > 0 ? 'ahead of' : 'behind'} the local clock`;
  if (abs > SKEW_FAIL_MS)
    return row(
      'clock skew',
      'FAIL',
      `${text} (> ${SKEW_FAIL_MS / 1000} s: Lease expiry and rotation dates are wrong)`,
    );
  if (abs > SKEW_WARN_MS) return row('clock skew', 'warn', `${text} (> ${SKEW_WARN_MS / 1000} s)`);
  return row('clock skew', 'ok', text);
}
