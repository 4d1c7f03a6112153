/**
 * The audit trail of the AWS API: one JSON line per request, in the shape of the process log's lines
 * (`level`, `time`, `service`, `msg`). Lines are built from fields that are safe by construction (no plaintext,
 * keys, secrets, signatures or context values), so they skip the logger's redaction. Without a destination
 * stream they go to stdout in batches (one write per ~4 KB of lines, at most 4 KiB per write so that lines stay
 * atomic on a pipe, and at least every 250 ms and at close): a write per request would cost as much as the
 * request itself. A crash can lose the last 250 ms of audit lines.
 */
import { pino } from 'pino';

export type AuditEntry = Readonly<Record<string, unknown>>;

export interface AuditLog {
  write(entry: AuditEntry): void;
  close(): Promise<void>;
}

let lastSecond = Number.NaN;
let secondPrefix = '';
/** The ISO time of now: the part up to the second is formatted once per second, the milliseconds appended. */
function isoNow(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  const frac = ms - second * 1000;
  return `${secondPrefix}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

/** `{"level","time","service", …entry, "msg"}` without copying the entry into a new object. */
export const line = (entry: AuditEntry): string => {
  const body = JSON.stringify(entry);
  const fields = body.length > 2 ? `${body.slice(1, -1)},` : '';
  return `{"level":"info","time":"${isoNow()}","service":"kubekms",${fields}"msg":"aws request"}\n`;
};

/** Writes each line to `stream` as it comes (tests, or a caller-supplied log destination). */
export function streamAuditLog(stream: NodeJS.WritableStream): AuditLog {
  return {
    write: (entry) => void stream.write(line(entry)),
    close: async () => undefined,
  };
}

const BATCH_BYTES = 4000;

/** Batched synchronous writes to stdout (sonic-boom handles EAGAIN on a non-blocking pipe). */
export function stdoutAuditLog(): AuditLog {
  const dest = pino.destination({ dest: 1, sync: true });
  let lines: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    bytes = 0;
    dest.write(text);
  };
  const timer = setInterval(flush, 250);
  timer.unref();
  return {
    write(entry) {
      const l = line(entry);
      // Lines are ASCII but for principals or context keys; length is a close enough measure of bytes.
      if (bytes + l.length > BATCH_BYTES) flush();
      lines.push(l);
      bytes += l.length;
    },
    close: async () => {
      clearInterval(timer);
      flush();
      dest.flushSync();
    },
  };
}
