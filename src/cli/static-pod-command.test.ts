import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFlags, UsageError } from './flags.ts';
import { renderStaticPod, STATIC_POD_FLAGS, staticPodOptions } from './static-pod-command.ts';

const render = (args: string[]) =>
  renderStaticPod(staticPodOptions(parseFlags(STATIC_POD_FLAGS, args, {}).values));

describe('kubekms static-pod', () => {
  it('renders exactly the committed deploy/static-pod.yaml by default', () => {
    const committed = readFileSync(new URL('../../deploy/static-pod.yaml', import.meta.url), 'utf8');
    expect(render([])).toBe(committed);
  });

  it('puts the flags into the manifest: image, paths, socket dir, probe port', () => {
    const y = render([
      '--image=registry.example/kubekms:1.2.3',
      '--root-key-file=/etc/k/root.bin',
      '--data-dir=/srv/kms',
      '--kms-socket=/run/k/plugin.sock',
      '--health-listen=127.0.0.1:19810',
    ]);
    expect(y).toContain('image: registry.example/kubekms:1.2.3');
    expect(y).toContain('- --root-key-file=/etc/k/root.bin');
    expect(y).toContain('hostPath: {path: /etc/k/root.bin, type: File}');
    expect(y).toContain('hostPath: {path: /srv/kms, type: DirectoryOrCreate}');
    expect(y).toContain('hostPath: {path: /run/k, type: DirectoryOrCreate}');
    expect(y).toContain('- --kms-socket=/run/k/plugin.sock');
    expect(y).toContain('port: 19810, path: /readyz');
  });

  it('runs the operator too when given a kubeconfig host path (mounted read-only)', () => {
    expect(render([])).not.toContain('--operator');
    const y = render(['--operator-kubeconfig=/etc/kubernetes/kubekms.conf', '--operator-namespace=kms']);
    expect(y).toContain(
      '        - --operator\n        - --kubeconfig=/etc/kubernetes/kubekms.conf\n        - --namespace=kms\n',
    );
    expect(y).toContain('{name: kubeconfig, mountPath: /etc/kubernetes/kubekms.conf, readOnly: true}');
    expect(y).toContain('hostPath: {path: /etc/kubernetes/kubekms.conf, type: File}');
    expect(render(['--operator-kubeconfig=kubekms.conf'])).toContain(
      `--kubeconfig=${process.cwd()}/kubekms.conf`,
    );
    expect(() => render(['--operator-kubeconfig=/etc/a b.conf'])).toThrow(/--operator-kubeconfig/);
  });

  it('shares the key state between control-plane nodes with --shared-state (which needs the kubeconfig)', () => {
    const y = render(['--operator-kubeconfig=/etc/kubernetes/kubekms.conf', '--shared-state']);
    expect(y).toContain('        - --namespace=kubekms\n        - --shared-state\n');
    expect(render(['--operator-kubeconfig=/etc/kubernetes/kubekms.conf'])).not.toContain('--shared-state');
    expect(() => render(['--shared-state'])).toThrow(/--shared-state: needs --operator-kubeconfig/);
  });

  it('keeps the pod free of API dependencies and tight', () => {
    const y = render([]);
    for (const line of [
      'hostNetwork: true',
      'priorityClassName: system-node-critical',
      'automountServiceAccountToken: false',
      'readOnlyRootFilesystem: true',
      'allowPrivilegeEscalation: false',
      'capabilities: {drop: [ALL]}',
      'seccompProfile: {type: RuntimeDefault}',
    ])
      expect(y).toContain(line);
    expect(y).not.toMatch(/secretName|secretKeyRef|serviceAccountName|--dev/);
  });

  it('refuses values that would break the YAML; relative paths are under the working directory', () => {
    expect(() => render(['--image=a b'])).toThrow(UsageError);
    expect(() => render(['--data-dir=/srv/a b'])).toThrow(/--data-dir/);
    const y = parseFlags(
      STATIC_POD_FLAGS,
      ['--data-dir=data', '--kms-socket=run/kms.sock'],
      {},
      '/srv/node',
    ).values;
    expect(renderStaticPod(staticPodOptions(y))).toContain('- --kms-socket=/srv/node/run/kms.sock');
    expect(renderStaticPod(staticPodOptions(y))).toContain(
      'hostPath: {path: /srv/node/data, type: DirectoryOrCreate}',
    );
    expect(() => render(['--health-listen=localhost'])).toThrow(/--health-listen/);
    expect(() => render(['--namespace=Kube_System'])).toThrow(/--namespace/);
  });
});
