/**
 * The content of keystore.lock and the rule that decides whether the process it names still holds it.
 *
 * Format, one field a line: `pid`, `host`, `boot=<boot id>`, `pidns=<pid namespace inode>`, `start=<start ticks>`.
 * Locks written before a field existed (`pid` alone, `pid\nhost`) still parse; unknown `key=value` lines are
 * ignored.
 */
import { hostname } from 'node:os';
import { bootId, pidNamespace, processStart, processStartWallMs } from './process-identity.ts';

export interface LockRecord {
  readonly pid: number;
  readonly host: string | undefined;
  /** The kernel boot id when the lock was written. */
  readonly boot: string | undefined;
  /** The pid namespace `pid` is counted in (a container has its own). */
  readonly pidns: string | undefined;
  /** The owner's start time in ticks since boot (/proc/<pid>/stat field 22). */
  readonly start: number | undefined;
}

/** A live owner on another host (another pod) touches the lock every 10 s; 30 s untouched means it is gone. */
export const LOCK_STALE_MS = 30_000;
/** Legacy locks: an owner starts before it first writes the lock; allows for btime's whole-second rounding. */
const LEGACY_START_SLACK_MS = 2_000;

export function parseLock(text: string): LockRecord | undefined {
  const [first = '', second, ...more] = text.split('\n');
  const pid = first.trim();
  if (!/^[1-9][0-9]{0,9}$/.test(pid)) return undefined;
  const host = second?.trim();
  const field = (key: string) =>
    more
      .find((l) => l.startsWith(`${key}=`))
      ?.slice(key.length + 1)
      .trim();
  const boot = field('boot');
  const pidns = field('pidns');
  const start = field('start');
  return {
    pid: Number(pid),
    host: host ? host : undefined,
    boot: boot && /^[0-9a-f-]{36}$/.test(boot) ? boot : undefined,
    pidns: pidns && /^[0-9]{1,20}$/.test(pidns) ? pidns : undefined,
    start: start && /^[0-9]{1,20}$/.test(start) ? Number(start) : undefined,
  };
}

export function formatLock(r: LockRecord): string {
  const lines = [String(r.pid), r.host ?? ''];
  if (r.boot !== undefined) lines.push(`boot=${r.boot}`);
  if (r.pidns !== undefined) lines.push(`pidns=${r.pidns}`);
  if (r.start !== undefined) lines.push(`start=${r.start}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Whether the process a lock names still holds it. `touchedMs` is the lock file's mtime (the owner touches it
 * every 10 s).
 * - Another host (another pod or container, whose pids mean nothing here): live until 30 s after its last touch.
 * - This host, our own pid: a previous incarnation (this process would hold the lock in memory), so stale.
 * - A boot id other than this boot's: written before a reboot, so stale.
 * - Another pid namespace (a process in another container, or on the host, sharing the data dir): its pid means
 *   nothing here, so the touch time decides, as for another host.
 * - A start time: live only while that pid exists and started at that very tick (a reused pid starts later).
 * - No start time (a lock from an older kubekms): a process that started after the lock's last touch cannot
 *   have written or touched it, so it is not the owner.
 * - Where /proc says nothing (not Linux, or hidepid): the touch time decides, as for another host.
 */
export function isLockLive(lock: LockRecord, touchedMs: number, nowMs = Date.now()): boolean {
  const touchedRecently = nowMs - touchedMs < LOCK_STALE_MS;
  if (lock.host !== undefined && lock.host !== hostname()) return touchedRecently;
  if (lock.pid === process.pid) return false;
  const boot = bootId();
  if (lock.boot !== undefined && boot !== undefined && lock.boot !== boot) return false;
  const pidns = pidNamespace();
  if (lock.pidns !== undefined && pidns !== undefined && lock.pidns !== pidns) return touchedRecently;
  const start = processStart(lock.pid);
  if (start.kind === 'gone') return false;
  if (start.kind === 'unknown') return touchedRecently;
  if (lock.start !== undefined) return start.ticks === lock.start;
  const startedAt = processStartWallMs(lock.pid);
  return startedAt === undefined || startedAt <= touchedMs + LEGACY_START_SLACK_MS;
}
