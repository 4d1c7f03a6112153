/**
 * Engine throughput next to the raw node:crypto primitive doing the same cryptographic work, in one process.
 *
 *   node bench/engine.ts [--rounds 5] [--ms 1000] [--clock cpu|wall] [--only Encrypt]
 *
 * The engine side goes through the public operations (EngineCore + MemoryKeyStore + TestRootKey + nodeCrypto,
 * SYSTEM caller): identifier parsing, validation, authorization, state and usage checks, the ciphertext format.
 * The raw side is the bare primitive with a KeyObject or key bytes prepared once. "engine / raw" is the share of
 * the primitive's throughput the engine keeps; 1.00 would mean the engine costs nothing on top.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  randomBytes,
} from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { nodeCrypto } from '../src/crypto/node-provider.ts';
import { EngineCore } from '../src/engine/core.ts';
import { generateDataKey } from '../src/engine/ops-datakey.ts';
import { decrypt, encrypt } from '../src/engine/ops-encrypt.ts';
import { createKey } from '../src/engine/ops-keys.ts';
import { generateMac } from '../src/engine/ops-mac.ts';
import { sign, verify } from '../src/engine/ops-sign.ts';
import { SYSTEM } from '../src/engine/policy.ts';
import type { KeySpec, SigningAlgorithm } from '../src/engine/specs.ts';
import { MemoryKeyStore, TestRootKey } from '../src/engine/testing.ts';
import { type Clock, type Comparison, compare, table } from './lib/measure.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    ms: { type: 'string', default: '1000' },
    clock: { type: 'string', default: 'cpu' },
    only: { type: 'string' },
  },
});
if (args.clock !== 'cpu' && args.clock !== 'wall') throw new Error('--clock must be cpu or wall');
const clock: Clock = args.clock;
const rounds = Number(args.rounds);
const minMs = Number(args.ms);

const core = await EngineCore.open({
  crypto: nodeCrypto,
  rootKey: new TestRootKey(nodeCrypto),
  store: new MemoryKeyStore(),
});
const sys = { caller: SYSTEM };
const symKey = (await createKey(core, sys, {})).keyId;
const hmacKey = (await createKey(core, sys, { keySpec: 'HMAC_256' })).keyId;

// The raw side: one AES-256 key, and an AAD as long as the engine's (21-byte header + 4-byte empty context). Keys
// are KeyObjects made once, the fastest way to hand a key to node:crypto (and what the engine's provider does).
const aesKey = createSecretKey(randomBytes(32));
const aad = randomBytes(25);
const hmacBytes = createSecretKey(randomBytes(32));

function rawSeal(plaintext: Uint8Array): { iv: Buffer; ct: Buffer; tag: Buffer } {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', aesKey, iv);
  c.setAAD(aad);
  const ct = c.update(plaintext);
  c.final();
  return { iv, ct, tag: c.getAuthTag() };
}

function rawOpen(s: { iv: Buffer; ct: Buffer; tag: Buffer }): Buffer {
  const d = createDecipheriv('aes-256-gcm', aesKey, s.iv);
  d.setAuthTag(s.tag);
  d.setAAD(aad);
  const pt = d.update(s.ct);
  d.final();
  return pt;
}

const rows: Comparison[] = [];
const run = (name: string, engine: () => unknown, raw: () => unknown): void => {
  if (args.only && !name.includes(args.only)) return;
  const c = compare(name, engine, raw, rounds, { minMs, clock });
  rows.push(c);
  process.stderr.write(`${name}: ${c.ratio.toFixed(2)}\n`);
};

for (const size of [32, 4096]) {
  const label = size === 32 ? '32 B' : '4 KiB';
  const plaintext = randomBytes(size);
  run(
    `Encrypt ${label}`,
    () => encrypt(core, sys, { keyId: symKey, plaintext }),
    () => rawSeal(plaintext),
  );
  const blob = encrypt(core, sys, { keyId: symKey, plaintext }).ciphertextBlob;
  const sealed = rawSeal(plaintext);
  run(
    `Decrypt ${label}`,
    () => decrypt(core, sys, { ciphertextBlob: blob }).plaintext,
    () => rawOpen(sealed),
  );
}

run(
  'GenerateDataKey 32 B',
  () => generateDataKey(core, sys, { keyId: symKey, numberOfBytes: 32 }),
  () => rawSeal(randomBytes(32)),
);

const message = randomBytes(32);
run(
  'GenerateMac HMAC_256 32 B',
  () => generateMac(core, sys, { keyId: hmacKey, message, macAlgorithm: 'HMAC_SHA_256' }),
  () => createHmac('sha256', hmacBytes).update(message).digest(),
);

const SIGNERS: ReadonlyArray<{
  spec: KeySpec;
  alg: SigningAlgorithm;
  pair: () => { privateKey: KeyObject; publicKey: KeyObject };
  hash: string | null;
  opts: object;
}> = [
  {
    spec: 'ECC_NIST_P256',
    alg: 'ECDSA_SHA_256',
    pair: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    hash: 'sha256',
    opts: { dsaEncoding: 'der' },
  },
  {
    spec: 'RSA_2048',
    alg: 'RSASSA_PSS_SHA_256',
    pair: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
    hash: 'sha256',
    opts: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  },
  {
    spec: 'ML_DSA_65',
    alg: 'ML_DSA_SHAKE_256',
    pair: () => generateKeyPairSync('ml-dsa-65'),
    hash: null,
    opts: {},
  },
];

for (const s of SIGNERS) {
  if (args.only && !`Sign ${s.spec} Verify ${s.spec}`.includes(args.only)) continue;
  const keyId = (await createKey(core, sys, { keySpec: s.spec, keyUsage: 'SIGN_VERIFY' })).keyId;
  const { privateKey, publicKey } = s.pair();
  const input = { keyId, message, signingAlgorithm: s.alg };
  run(
    `Sign ${s.spec} ${s.alg}`,
    () => sign(core, sys, input),
    () => nodeSign(s.hash, message, { key: privateKey, ...s.opts }),
  );
  const signature = sign(core, sys, input).signature;
  const rawSignature = nodeSign(s.hash, message, { key: privateKey, ...s.opts });
  run(
    `Verify ${s.spec} ${s.alg}`,
    () => verify(core, sys, { ...input, signature }),
    () => nodeVerify(s.hash, message, { key: publicKey, ...s.opts }, rawSignature),
  );
}

const cpu = cpus();
console.log(
  `node ${process.version}, OpenSSL ${process.versions.openssl}, ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}; ` +
    `${rounds} rounds of interleaved ~1 ms batches, ≥ ${minMs} ms ${clock} time per side per round (after 200 ms warm-up); median ops per ${clock} second`,
);
console.log(table(rows));
