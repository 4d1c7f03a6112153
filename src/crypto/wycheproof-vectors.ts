/**
 * Test support: loads Wycheproof vector files and runs them, counting what ran. Used by the wycheproof*.test.ts
 * files only (never part of the published build). The vectors are vendored, gzip-compressed, in
 * test/vectors/wycheproof/ (README there names the upstream commit); a missing file is an error, never a skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { CryptoProvider } from '../engine/ports.ts';
import type { AsymmetricKeySpec, HashAlgorithm, SigningAlgorithm } from '../engine/specs.ts';

export const WYCHEPROOF_DIR = new URL('../../test/vectors/wycheproof/', import.meta.url);

export type VectorResult = 'valid' | 'invalid' | 'acceptable';
export interface Vector {
  tcId: number;
  result: VectorResult;
  flags?: string[];
}
export interface VectorGroup<T extends Vector> {
  tests: T[];
}
interface VectorFile<G> {
  testGroups: G[];
}

export function loadVectors<G>(name: string): VectorFile<G> {
  const path = fileURLToPath(new URL(`${name}.gz`, WYCHEPROOF_DIR));
  if (!existsSync(path)) {
    throw new Error(`wycheproof: ${path} is missing; vendor it as test/vectors/wycheproof/README.md says`);
  }
  return JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as VectorFile<G>;
}

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export interface Tally {
  valid: number;
  invalid: number;
  acceptable: number;
  skipped: number;
}

/**
 * Runs `accepts` on every vector that `applies` to and checks the outcome: valid vectors must be accepted (with
 * the right output, which `accepts` checks), invalid ones refused; acceptable ones may go either way. Throws on
 * the first wrong outcome, naming the vector. Returns how many of each kind ran.
 */
export function runVectors<T extends Vector>(
  groups: readonly VectorGroup<T>[],
  applies: (t: T) => boolean,
  accepts: (t: T) => boolean,
): Tally {
  const tally: Tally = { valid: 0, invalid: 0, acceptable: 0, skipped: 0 };
  for (const group of groups) {
    for (const t of group.tests) {
      if (!applies(t)) {
        tally.skipped++;
        continue;
      }
      const accepted = accepts(t);
      if ((t.result === 'valid' && !accepted) || (t.result === 'invalid' && accepted)) {
        const flags = t.flags?.join(',') ?? '';
        throw new Error(
          `wycheproof: tcId ${t.tcId} (${t.result}; ${flags}) was ${accepted ? 'accepted' : 'refused'}`,
        );
      }
      tally[t.result]++;
    }
  }
  return tally;
}

export interface VerifyVector extends Vector {
  msg: string;
  sig: string;
  ctx?: string;
}
interface VerifyGroup extends VectorGroup<VerifyVector> {
  publicKeyDer: string;
}

/**
 * Runs a signature-verification file through `provider.verify` with the RAW message and, when the algorithm has
 * a hash, with its DIGEST too (the separate digest-signing code paths); both must give the expected outcome.
 * Groups whose key `isValidPublicKey` refuses count as refusing all their vectors.
 */
export function runVerifyFile(
  provider: CryptoProvider,
  file: string,
  spec: AsymmetricKeySpec,
  algorithm: SigningAlgorithm,
  hash: HashAlgorithm | undefined,
  applies: (t: VerifyVector) => boolean = () => true,
): Tally {
  const groups = loadVectors<VerifyGroup>(file).testGroups;
  const total: Tally = { valid: 0, invalid: 0, acceptable: 0, skipped: 0 };
  for (const group of groups) {
    const publicKey = hex(group.publicKeyDer);
    const keyOk = provider.isValidPublicKey(spec, publicKey);
    const tally = runVectors([group], applies, (t) => {
      if (!keyOk) return false;
      const msg = hex(t.msg);
      const sig = hex(t.sig);
      const raw = provider.verify(spec, algorithm, publicKey, msg, 'RAW', sig);
      if (hash === undefined) return raw;
      const digest = provider.verify(spec, algorithm, publicKey, provider.digest(hash, msg), 'DIGEST', sig);
      if (raw !== digest)
        throw new Error(`wycheproof: tcId ${t.tcId}: RAW says ${raw}, DIGEST says ${digest}`);
      return raw;
    });
    total.valid += tally.valid;
    total.invalid += tally.invalid;
    total.acceptable += tally.acceptable;
    total.skipped += tally.skipped;
  }
  return total;
}
