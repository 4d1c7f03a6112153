/** helm from the Go module proxy (built and cached by build-helm.sh), run over charts/kubekms. */
import { join } from 'node:path';
import { REPO_ROOT } from '../controlplane/harness.ts';
import { type ExecResult, exec, must } from './exec.ts';

export const CHART = join(REPO_ROOT, 'charts', 'kubekms');
export const FULL_VALUES = join(REPO_ROOT, 'test', 'packaging', 'values-full.yaml');

/** Builds helm on a cache miss (about 2 minutes) and returns its path. */
export async function helmBinary(): Promise<string> {
  const out = await must('bash', [join(REPO_ROOT, 'test', 'packaging', 'build-helm.sh')], {
    timeoutMs: 600_000,
  });
  return out.trim().split('\n').pop() ?? '';
}

/** `helm template` of the chart into namespace kubekms, with extra args (-f, --set, --api-versions). */
export function helmTemplate(helm: string, args: readonly string[] = []): Promise<ExecResult> {
  return exec(helm, ['template', 'kubekms', CHART, '--namespace', 'kubekms', ...args]);
}

/** The `kind:` of each document of a multi-document YAML stream. */
export function kinds(yaml: string): string[] {
  return [...yaml.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]!);
}
