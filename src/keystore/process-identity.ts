/**
 * Who a pid is, from what a reboot or a reused pid cannot fake (Linux /proc): the kernel's boot id, the pid
 * namespace the pid is counted in, and the process's start time in clock ticks since boot (/proc/<pid>/stat field
 * 22). Elsewhere (no /proc) every answer is `undefined` and callers fall back to weaker evidence.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { errorCode } from './keystore-fs.ts';

/** USER_HZ: the unit of /proc start times. 100 on every architecture Node runs on (x86, arm, ppc64, s390x). */
const USER_HZ = 100;

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** This boot of the kernel (a fresh UUID on every boot; the same in every container on the node). */
export function bootId(): string | undefined {
  const id = readProc('/proc/sys/kernel/random/boot_id')?.trim();
  return id && /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

/** This process's pid namespace (the inode of /proc/self/ns/pid): pids from another one mean nothing here. */
export function pidNamespace(): string | undefined {
  try {
    return /^pid:\[([0-9]{1,20})\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Field 22 of /proc/<pid>/stat: when the process started, in ticks since boot. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so fields are counted after the last ')'.
 */
export function parseStartTicks(stat: string): number | undefined {
  const rest = stat
    .slice(stat.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/);
  const field = rest[22 - 3]; // rest[0] is field 3 (state)
  return field !== undefined && /^[0-9]{1,20}$/.test(field) ? Number(field) : undefined;
}

export type ProcessStart =
  | { readonly kind: 'started'; readonly ticks: number }
  /** No such process (or /proc says nothing and kill(pid, 0) agrees). */
  | { readonly kind: 'gone' }
  /** Alive, but its start time cannot be read (no /proc, or /proc mounted with hidepid). */
  | { readonly kind: 'unknown' };

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) !== 'ESRCH';
  }
}

export function processStart(pid: number): ProcessStart {
  const stat = readProc(`/proc/${pid}/stat`);
  const ticks = stat === undefined ? undefined : parseStartTicks(stat);
  if (ticks !== undefined) return { kind: 'started', ticks };
  return isProcessAlive(pid) ? { kind: 'unknown' } : { kind: 'gone' };
}

/** Wall-clock time (ms) at which `pid` started: boot time (/proc/stat btime) plus its start ticks. */
export function processStartWallMs(pid: number): number | undefined {
  const start = processStart(pid);
  const btime = /^btime ([0-9]+)$/m.exec(readProc('/proc/stat') ?? '')?.[1];
  if (start.kind !== 'started' || btime === undefined) return undefined;
  return Number(btime) * 1000 + (start.ticks * 1000) / USER_HZ;
}

/** What this process writes into its lock: its pid, boot id, pid namespace and start time. */
export function selfIdentity(): {
  pid: number;
  boot: string | undefined;
  pidns: string | undefined;
  start: number | undefined;
} {
  const start = processStart(process.pid);
  return {
    pid: process.pid,
    boot: bootId(),
    pidns: pidNamespace(),
    start: start.kind === 'started' ? start.ticks : undefined,
  };
}
