import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeConfigOrReason, loadKubeConfig } from './kubeconfig.ts';

const CONFIG = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://api.example:6443'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;

describe('loadKubeConfig', () => {
  let dir: string;
  const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubekms-kubeconfig-'));
    delete process.env.KUBECONFIG;
    process.env.HOME = dir; // no ~/.kube/config
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads --kubeconfig PATH, else $KUBECONFIG, else ~/.kube/config', () => {
    const file = join(dir, 'kc.yaml');
    writeFileSync(file, CONFIG);
    expect(loadKubeConfig(file).getCurrentCluster()?.server).toBe('https://api.example:6443');
    process.env.KUBECONFIG = file;
    expect(loadKubeConfig('').getCurrentCluster()?.server).toBe('https://api.example:6443');
    delete process.env.KUBECONFIG;
    const home = join(dir, '.kube');
    mkdirSync(home);
    writeFileSync(join(home, 'config'), CONFIG);
    expect(loadKubeConfig('').getCurrentCluster()?.server).toBe('https://api.example:6443');
  });

  it('with nothing to load says why, instead of client-node falling back to http://localhost:8080', () => {
    expect(() => loadKubeConfig('')).toThrow(/^no kubeconfig: --kubeconfig is empty, \$KUBECONFIG is unset/);
    expect(kubeConfigOrReason('')).toMatch(/^no kubeconfig/);
  });

  it('names the file it cannot load and one without a current cluster', () => {
    expect(() => loadKubeConfig(join(dir, 'missing.yaml'))).toThrow(
      /cannot load the kubeconfig .*missing\.yaml/,
    );
    const bare = join(dir, 'bare.yaml');
    writeFileSync(bare, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    expect(kubeConfigOrReason(bare)).toBe(`the kubeconfig ${bare} has no current cluster`);
  });
});
