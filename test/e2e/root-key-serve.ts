/**
 * `kubekms serve` with a root key file instead of --dev, as the disaster-recovery, rollback and HA suites run it:
 * a fresh root key file, a control plane whose KMS v2 plugin uses it, and the `kubekms` CLI as a child process.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ControlPlane, run, startControlPlane } from '../controlplane/harness.ts';
import { MAIN } from './lifecycle.ts';

/** Writes a random 32-byte root key (hex) to `<dir>/root.key`, mode 0600, and returns its path. */
export function newRootKeyFile(dir: string): string {
  const file = join(dir, 'root.key');
  writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return file;
}

/** A control plane in `dir` whose plugin is `kubekms serve --root-key-file <rootKeyFile>`. */
export function startRootKeyControlPlane(dir: string, rootKeyFile: string): Promise<ControlPlane> {
  return startControlPlane({
    dir,
    plugin: {
      command: (p) => [
        process.execPath,
        MAIN,
        'serve',
        ...['--root-key-file', rootKeyFile, '--data-dir', p.dataDir],
        ...['--kms-socket', p.socket, '--health-listen', p.healthListen],
      ],
    },
  });
}

/** Runs `kubekms <args>` (2 min at most) and returns its stdout; rejects when it fails. */
export const kubekmsCli = async (args: readonly string[]): Promise<string> =>
  (await run(process.execPath, [MAIN, ...args], { timeoutMs: 120_000 })).stdout.toString('utf8');
