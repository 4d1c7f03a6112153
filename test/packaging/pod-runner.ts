/**
 * A stand-in kubelet for the packaging tests: runs the containers of a Deployment's pod, as the API server stores
 * it, as local processes. Secret volumes are filled from the API's Secrets (items, defaultMode, and under fsGroup
 * group-read as the kubelet makes them), emptyDirs are empty directories, and every mount path in a container's
 * command and args is rewritten into a temporary root. The image's entrypoint is `node dist/cli/main.js serve`
 * (Dockerfile); here it is `node src/cli/main.ts serve`.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Apiserver } from '../controlplane/harness.ts';
import { REPO_ROOT } from '../controlplane/harness.ts';
import type { Container, PodSpec, Volume } from './helm.ts';

export interface LocalPod {
  readonly root: string;
  readonly spec: PodSpec;
  /** argv of a container (image entrypoint + args, or its command) with mount paths made local. */
  argv(container: Container): string[];
}

const regexpQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function fillVolume(api: Apiserver, ns: string, v: Volume, dir: string, fsGroup: boolean) {
  mkdirSync(dir, { recursive: true });
  if (!v.secret) return;
  const secret = JSON.parse(
    await api.kubectl(['get', 'secret', v.secret.secretName, '-n', ns, '-o', 'json']),
  ) as {
    data: Record<string, string>;
  };
  const items = v.secret.items ?? Object.keys(secret.data).map((key) => ({ key, path: key }));
  const mode = (v.secret.defaultMode ?? 0o644) | (fsGroup ? 0o440 : 0);
  for (const { key, path } of items) {
    const data = secret.data[key];
    if (data === undefined) throw new Error(`Secret ${v.secret.secretName} has no key ${key}`);
    writeFileSync(join(dir, path), Buffer.from(data, 'base64'));
    chmodSync(join(dir, path), mode);
  }
}

/** Reads the Deployment's pod template and lays out its volumes under a new temporary root. */
export async function localPod(api: Apiserver, ns: string, deployment: string): Promise<LocalPod> {
  const d = JSON.parse(await api.kubectl(['get', 'deployment', deployment, '-n', ns, '-o', 'json'])) as {
    spec: { template: { spec: PodSpec } };
  };
  const spec = d.spec.template.spec;
  const root = mkdtempSync(join(tmpdir(), 'kubekms-pod-'));
  const fsGroup = spec.securityContext?.fsGroup !== undefined;
  for (const v of spec.volumes ?? []) await fillVolume(api, ns, v, join(root, v.name), fsGroup);
  return {
    root,
    spec,
    argv(c) {
      // One pass over every mount path (longest first), so a rewritten path is never rewritten again.
      const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
      const dirOf = new Map(mounts.map((m) => [m.mountPath, join(root, m.name)]));
      const paths = mounts.map((m) => regexpQuote(m.mountPath)).join('|');
      const pattern = new RegExp(`(^|[="'\\s,[])(${paths})(?=/|$|["'\\s,\\]])`, 'g');
      const local = (s: string) =>
        mounts.length === 0
          ? s
          : s.replace(pattern, (_m, pre: string, path: string) => pre + dirOf.get(path));
      const argv = c.command
        ? [...c.command, ...(c.args ?? [])]
        : ['node', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'serve', ...(c.args ?? [])];
      if (argv[0] !== 'node')
        throw new Error(`container ${c.name}: only node commands run here, not ${argv[0]}`);
      return [process.execPath, ...argv.slice(1).map(local)];
    },
  };
}
