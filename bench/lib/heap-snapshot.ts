/**
 * Heap snapshots of a benchmarked child process (started with `--heapsnapshot-signal=SIGUSR2`), summarised by
 * what V8 calls the node's type and name (a constructor, "(string)", "(compiled code)", …), so that two snapshots
 * taken before and after a load run show which kinds of objects the load left behind.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from './process.ts';

/** Self size (bytes) and count per "type:name" group. */
export type HeapSummary = Map<string, { count: number; bytes: number }>;

interface SnapshotFile {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: unknown[] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Groups every node of a .heapsnapshot by type and (for objects, closures and native nodes) name. */
export function summarise(json: string): HeapSummary {
  const s = JSON.parse(json) as SnapshotFile;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const out: HeapSummary = new Map();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt] ?? 0] ?? '?';
    const named = type === 'object' || type === 'closure' || type === 'native';
    const key = named ? `${type}:${s.strings[s.nodes[i + nameAt] ?? 0]}` : `(${type})`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += s.nodes[i + sizeAt] ?? 0;
    out.set(key, g);
  }
  return out;
}

export function totalBytes(h: HeapSummary): number {
  let t = 0;
  for (const g of h.values()) t += g.bytes;
  return t;
}

/** The `top` groups that grew most from `before` to `after`, as printable lines. */
export function growth(before: HeapSummary, after: HeapSummary, top = 12): string[] {
  const rows = [...after].map(([key, a]) => {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    return { key, dBytes: a.bytes - b.bytes, dCount: a.count - b.count, bytes: a.bytes };
  });
  rows.sort((x, y) => y.dBytes - x.dBytes);
  return rows
    .slice(0, top)
    .map(
      (r) =>
        `${(r.dBytes / 1024).toFixed(0).padStart(8)} KiB ${String(r.dCount).padStart(8)} objects  ${r.key.slice(0, 60)} (now ${(r.bytes / 1024).toFixed(0)} KiB)`,
    );
}

/** Signals `pid` to write a heap snapshot into `dir` (its working directory) and summarises it. */
export async function takeSnapshot(pid: number, dir: string): Promise<HeapSummary> {
  const before = new Set((await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot')));
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 120_000; waited += 250) {
    await sleep(250);
    const fresh = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!fresh) continue;
    // The file appears at once and is complete when it parses; a partial write fails JSON.parse.
    try {
      return summarise(await readFile(join(dir, fresh), 'utf8'));
    } catch {}
  }
  throw new Error(`no heap snapshot from pid ${pid} within 120 s`);
}
