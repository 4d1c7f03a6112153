/**
 * SoftHSM2 for tests: a private token directory under /tmp/kubekms-hsm-*, a SOFTHSM2_CONF pointing at it, and
 * tokens initialized with `softhsm2-util --init-token --free`. SoftHSM2 reads SOFTHSM2_CONF and scans the token
 * directory at C_Initialize, so a test process sets the variable and creates its tokens before the first open.
 * When SoftHSM2 is not installed, `createSoftHsm` throws (tests fail, they do not skip): CI installs the Debian
 * package `softhsm2` in .ci/run.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  readonly dir: string;
  /** Path of the private softhsm2.conf. */
  readonly conf: string;
  /** The user PIN of every token. */
  readonly pin: string;
  /** Environment for a child process that uses these tokens. */
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

function findUtil(): string | undefined {
  for (const p of ['/usr/bin/softhsm2-util', '/usr/local/bin/softhsm2-util']) if (existsSync(p)) return p;
  return undefined;
}

/** Throws a clear error when SoftHSM2 is missing (`module` is a parameter for the test of that message). */
export function requireSoftHsm(module = SOFTHSM_MODULE): string {
  const util = findUtil();
  if (!existsSync(module) || util === undefined)
    throw new Error(
      `SoftHSM2 is not installed (${module} and softhsm2-util are needed): the pkcs11 root-key tests ` +
        'run against it. Install the Debian package: apt-get install softhsm2 (.ci/run does this on CI).',
    );
  return util;
}

/** A fresh SoftHSM2 with one initialized token per label (all with the same user PIN). */
export async function createSoftHsm(tokenLabels: readonly string[]): Promise<SoftHsm> {
  const util = requireSoftHsm();
  const dir = await mkdtemp('/tmp/kubekms-hsm-');
  const tokens = join(dir, 'tokens');
  await mkdir(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    { mode: 0o600 },
  );
  const pin = `pin-${randomBytes(6).toString('hex')}`;
  const soPin = `so-${randomBytes(6).toString('hex')}`;
  for (const label of tokenLabels) {
    execFileSync(util, ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  return {
    dir,
    conf,
    pin,
    env: { SOFTHSM2_CONF: conf },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
