/**
 * A root key derived from a passphrase with scrypt (memory-hard; node:crypto), for backups kept off site without
 * the HSM or the key file: `kubekms backup --escrow-passphrase-file` re-wraps every key version under it
 * (docs/disaster-recovery.md). The parameters and salt travel with the backup; they are checked on read so that a
 * forged file cannot ask for unbounded memory or time.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Uint8Array;
}

/** 2^17 × 8 × 128 B = 128 MiB and about half a second per derivation on one core. */
export const DEFAULT_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
const LIMITS = { minN: 2 ** 14, maxN: 2 ** 20, maxR: 32, maxP: 16, minPassphrase: 12 } as const;

export function newScryptParams(cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT): ScryptParams {
  return { ...cost, salt: new Uint8Array(randomBytes(16)) };
}

/** Why `params` are unacceptable, or undefined. */
export function scryptParamsProblem(params: ScryptParams): string | undefined {
  const { N, r, p, salt } = params;
  if (!Number.isSafeInteger(N) || N < LIMITS.minN || N > LIMITS.maxN || (N & (N - 1)) !== 0)
    return `N must be a power of two in [${LIMITS.minN}, ${LIMITS.maxN}], got ${N}`;
  if (!Number.isSafeInteger(r) || r < 1 || r > LIMITS.maxR)
    return `r must be in [1, ${LIMITS.maxR}], got ${r}`;
  if (!Number.isSafeInteger(p) || p < 1 || p > LIMITS.maxP)
    return `p must be in [1, ${LIMITS.maxP}], got ${p}`;
  if (salt.length < 16) return `salt must be at least 16 bytes, got ${salt.length}`;
  return undefined;
}

/** The root key the passphrase and parameters give. Refuses short passphrases and out-of-range parameters. */
export async function passphraseRootKey(passphrase: string, params: ScryptParams): Promise<FileRootKey> {
  if ([...passphrase].length < LIMITS.minPassphrase)
    throw new RootKeyError(
      `rootkey: the escrow passphrase is shorter than ${LIMITS.minPassphrase} characters`,
    );
  const problem = scryptParamsProblem(params);
  if (problem !== undefined) throw new RootKeyError(`rootkey: scrypt parameters: ${problem}`);
  const { N, r, p, salt } = params;
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), salt, 32, { N, r, p, maxmem: 256 * N * r }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
  return FileRootKey.fromSecret(
    `passphrase (scrypt N=${N} r=${r} p=${p})`,
    new SecretBytes(new Uint8Array(key)),
  );
}
