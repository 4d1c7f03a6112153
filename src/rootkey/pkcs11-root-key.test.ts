/** The pkcs11 root key against SoftHSM2: wrap/unwrap in the token, refusals, lost sessions, concurrency. */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError, RootKeyExistsError, RootKeyMismatchError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';
import {
  CKA_EXTRACTABLE,
  CKA_VALUE,
  CKM_AES_KEY_GEN,
  ckrName,
  importBinding,
  type Pkcs11Api,
} from './pkcs11-binding.ts';
import { acquirePkcs11Module, type Pkcs11Module } from './pkcs11-module.ts';
import { Pkcs11RootKey, type Pkcs11RootKeyOptions } from './pkcs11-root-key.ts';
import { openLoggedInSession, resolveSlot, rootKeyTemplate } from './pkcs11-token.ts';
import { createSoftHsm, requireSoftHsm, SOFTHSM_MODULE, type SoftHsm } from './testing/softhsm.ts';

const aad = new TextEncoder().encode('kubekms/test/aad');
const otherAad = new TextEncoder().encode('kubekms/test/aad2');
const secret = (text: string) => new SecretBytes(new TextEncoder().encode(text));
const plain = (s: SecretBytes) => new TextDecoder().decode(s.unsafeBytes());

let hsm: SoftHsm;
let held: Pkcs11Module;
let labels = 0;
const opened: Pkcs11RootKey[] = [];

beforeAll(async () => {
  hsm = await createSoftHsm(['kubekms-a', 'kubekms-b']);
  process.env.SOFTHSM2_CONF = hsm.conf;
  // Held for the whole file so the module stays initialized between tests (and for direct token access).
  held = await acquirePkcs11Module(SOFTHSM_MODULE);
});
afterAll(async () => {
  for (const k of opened) await k.close();
  held?.release();
  await hsm?.cleanup();
});

function target(overrides: Partial<Pkcs11RootKeyOptions> = {}): Pkcs11RootKeyOptions {
  return {
    modulePath: SOFTHSM_MODULE,
    tokenLabel: 'kubekms-a',
    keyLabel: `root-${++labels}`,
    pin: hsm.pin,
    ...overrides,
  };
}

async function created(overrides: Partial<Pkcs11RootKeyOptions> = {}): Promise<Pkcs11RootKey> {
  const key = await Pkcs11RootKey.create(target(overrides));
  opened.push(key);
  return key;
}

/** Replaces one call of the shared module's API for the next `times` calls with a thrown CKR error. */
function inject(
  api: Pkcs11Api,
  method: 'C_EncryptAsync' | 'C_DecryptAsync',
  name: string,
  code: number,
  times = 1,
) {
  const original = api[method];
  let left = times;
  const fake = (...args: Parameters<Pkcs11Api['C_EncryptAsync']>) => {
    if (left-- > 0) return Promise.reject(Object.assign(new Error(name), { code }));
    return original.apply(api, args);
  };
  Object.assign(api, { [method]: fake });
  return () => Object.assign(api, { [method]: original });
}

describe('Pkcs11RootKey wrap/unwrap in SoftHSM2', () => {
  it('round-trips with a versioned blob and a fresh IV, one-byte and large plaintexts included; refuses empty', async () => {
    const key = await created();
    const a = await key.wrap(secret('material'), aad);
    const b = await key.wrap(secret('material'), aad);
    expect(a[0]).toBe(0x02);
    expect(a.length).toBe(1 + 12 + 8 + 16);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(plain(await key.unwrap(a, aad))).toBe('material');
    expect(plain(await key.unwrap(b, aad))).toBe('material');
    await expect(key.wrap(new SecretBytes(new Uint8Array(0)), aad)).rejects.toThrow(
      /^rootkey: nothing to wrap: the plaintext is empty$/,
    );
    const one = await key.wrap(SecretBytes.copyOf(Uint8Array.of(7)), aad);
    expect(Array.from((await key.unwrap(one, aad)).unsafeBytes())).toEqual([7]);
    const big = new Uint8Array(10_000).map((_, i) => i & 0xff);
    const back = await key.unwrap(await key.wrap(SecretBytes.copyOf(big), aad), aad);
    expect(Buffer.from(back.unsafeBytes()).equals(Buffer.from(big))).toBe(true);
  });

  it('describes itself by module, slot, token and label, never the PIN', async () => {
    const key = await created({ keyLabel: 'described' });
    expect(key.description).toMatch(/^pkcs11:libsofthsm2\.so slot \d+ token kubekms-a label described$/);
    const printed = `${key.description} ${JSON.stringify(key)} ${inspect(key, { showHidden: true, depth: 5 })}`;
    expect(printed).not.toContain(hsm.pin);
  });

  it('keeps the key in the token: sensitive and not extractable', async () => {
    const options = target();
    await created(options);
    const slot = resolveSlot(held.api, options);
    const session = openLoggedInSession(held.api, slot, hsm.pin, false);
    try {
      held.api.C_FindObjectsInit(session, [{ type: 3, value: options.keyLabel }]);
      const [object] = held.api.C_FindObjects(session, 2);
      held.api.C_FindObjectsFinal(session);
      const [extractable] = held.api.C_GetAttributeValue(session, object!, [{ type: CKA_EXTRACTABLE }]);
      expect(extractable!.value).toEqual(Buffer.from([0]));
      let err: unknown;
      try {
        held.api.C_GetAttributeValue(session, object!, [{ type: CKA_VALUE }]);
      } catch (e) {
        err = e;
      }
      expect(ckrName(err)).toBe('CKR_ATTRIBUTE_SENSITIVE');
    } finally {
      held.api.C_CloseSession(session);
    }
  });

  it('refuses a wrong AAD, another key, every altered byte and short or foreign blobs', async () => {
    const key = await created();
    const other = await created({ tokenLabel: 'kubekms-b' });
    const wrapped = await key.wrap(secret('material'), aad);
    await expect(key.unwrap(wrapped, otherAad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    await expect(other.unwrap(wrapped, aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    for (let i = 0; i < wrapped.length; i++) {
      const bad = Uint8Array.from(wrapped);
      bad[i]! ^= 0x01;
      await expect(key.unwrap(bad, aad), `byte ${i}`).rejects.toBeInstanceOf(RootKeyMismatchError);
    }
    await expect(key.unwrap(wrapped.subarray(0, 28), aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    await expect(key.unwrap(new Uint8Array(0), aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    // The key still works after the refusals (no operation left active on the session).
    expect(plain(await key.unwrap(wrapped, aad))).toBe('material');
  });

  it('and a file root key refuse each other’s blobs', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/kubekms-hsm-file-');
    try {
      const file = await FileRootKey.create(`${dir}/root.key`);
      const key = await created();
      const fromFile = await file.wrap(secret('material'), aad);
      const fromHsm = await key.wrap(secret('material'), aad);
      await expect(key.unwrap(fromFile, aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
      await expect(file.unwrap(fromHsm, aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
      // Same layout, other version byte: relabelled blobs still fail on the tag.
      await expect(key.unwrap(Uint8Array.from([0x02, ...fromFile.subarray(1)]), aad)).rejects.toBeInstanceOf(
        RootKeyMismatchError,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unwraps with a second instance on the same token key (a restart)', async () => {
    const options = target();
    const first = await created(options);
    const wrapped = await first.wrap(secret('persisted'), aad);
    const second = await Pkcs11RootKey.open(options);
    opened.push(second);
    expect(second.description).toBe(first.description);
    expect(plain(await second.unwrap(wrapped, aad))).toBe('persisted');
  });

  it('runs many wraps and unwraps concurrently', async () => {
    const key = await created();
    const n = 200;
    const started = performance.now();
    const wrapped = await Promise.all(
      Array.from({ length: n }, (_, i) => key.wrap(secret(`material-${i}`), aad)),
    );
    const back = await Promise.all(wrapped.map((w) => key.unwrap(w, aad)));
    const ms = performance.now() - started;
    expect(back.map(plain)).toEqual(Array.from({ length: n }, (_, i) => `material-${i}`));
    // Mixed, with refusals interleaved: each call gets its own answer.
    const mixed = await Promise.allSettled(
      wrapped.map((w, i) => (i % 3 === 0 ? key.unwrap(w, otherAad) : key.unwrap(w, aad))),
    );
    mixed.forEach((r, i) => {
      if (i % 3 === 0) expect(r.status === 'rejected' && r.reason instanceof RootKeyMismatchError).toBe(true);
      else expect(r.status === 'fulfilled' && plain(r.value)).toBe(`material-${i}`);
    });
    console.log(`pkcs11 root key: ${n} wraps + ${n} unwraps in ${ms.toFixed(0)} ms`);
  });
});

describe('Pkcs11RootKey sessions', () => {
  it('re-opens and logs in again after every session of the token was closed', async () => {
    const warnings: string[] = [];
    const options = target({ log: { warn: (obj) => warnings.push(JSON.stringify(obj)) } });
    const key = await created(options);
    const wrapped = await key.wrap(secret('before'), aad);
    held.api.C_CloseAllSessions(resolveSlot(held.api, options).handle);
    expect(plain(await key.unwrap(wrapped, aad))).toBe('before');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /CKR_SESSION_HANDLE_INVALID|CKR_USER_NOT_LOGGED_IN|CKR_OBJECT_HANDLE_INVALID/,
    );
    expect(warnings[0]).not.toContain(hsm.pin);
    held.api.C_CloseAllSessions(resolveSlot(held.api, options).handle);
    expect(plain(await key.unwrap(await key.wrap(secret('after'), aad), aad))).toBe('after');
  });

  it('re-opens after CKR_DEVICE_REMOVED and retries the call once', async () => {
    const warnings: string[] = [];
    const key = await created({ log: { warn: (obj) => warnings.push(JSON.stringify(obj)) } });
    const restore = inject(held.api, 'C_EncryptAsync', 'CKR_DEVICE_REMOVED', 0x32);
    try {
      const wrapped = await key.wrap(secret('x'), aad);
      expect(plain(await key.unwrap(wrapped, aad))).toBe('x');
    } finally {
      restore();
    }
    expect(warnings.join()).toContain('CKR_DEVICE_REMOVED');
  });

  it('reports a token that keeps failing as a RootKeyError (not a mismatch), and recovers when it is back', async () => {
    const key = await created();
    const wrapped = await key.wrap(secret('x'), aad);
    let restore = inject(held.api, 'C_DecryptAsync', 'CKR_DEVICE_ERROR', 0x30, 5);
    const err = await key.unwrap(wrapped, aad).catch((e: unknown) => e);
    restore();
    expect(err).toBeInstanceOf(RootKeyError);
    expect(err).not.toBeInstanceOf(RootKeyMismatchError);
    expect((err as Error).message).toBe(`rootkey: C_Decrypt in ${key.description} failed: CKR_DEVICE_ERROR`);
    // CKR_GENERAL_ERROR is SoftHSM2's answer to a bad tag; a failing probe shows it is the token instead.
    restore = inject(held.api, 'C_DecryptAsync', 'CKR_GENERAL_ERROR', 0x5, 5);
    const general = await key.unwrap(wrapped, aad).catch((e: unknown) => e);
    restore();
    expect(general).toBeInstanceOf(RootKeyError);
    expect(general).not.toBeInstanceOf(RootKeyMismatchError);
    restore = inject(held.api, 'C_EncryptAsync', 'CKR_SESSION_HANDLE_INVALID', 0xb3, 2);
    await expect(key.wrap(secret('y'), aad)).rejects.toThrow(
      /C_Encrypt .* failed: CKR_SESSION_HANDLE_INVALID/,
    );
    restore();
    expect(plain(await key.unwrap(wrapped, aad))).toBe('x');
  });

  it('closes: later calls fail clearly; the same key opens again', async () => {
    const options = target();
    const key = await created(options);
    await key.close();
    await key.close();
    await expect(key.wrap(secret('x'), aad)).rejects.toThrow(/^rootkey: pkcs11:.* is closed$/);
    const again = await Pkcs11RootKey.open(options);
    opened.push(again);
    expect(plain(await again.unwrap(await again.wrap(secret('y'), aad), aad))).toBe('y');
  });
});

describe('Pkcs11RootKey refusals', () => {
  it('create refuses a label that exists and leaves the key as it was', async () => {
    const options = target();
    const first = await created(options);
    const wrapped = await first.wrap(secret('kept'), aad);
    const err = await Pkcs11RootKey.create(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyExistsError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^rootkey: a key labelled "${options.keyLabel}" in token "kubekms-a" \\(slot \\d+\\) already exists`,
      ),
    );
    expect(plain(await first.unwrap(wrapped, aad))).toBe('kept');
  });

  it('open names a missing key label, token label and slot', async () => {
    await expect(Pkcs11RootKey.open(target({ keyLabel: 'absent' }))).rejects.toThrow(
      /^rootkey: no secret key labelled "absent" in token "kubekms-a" \(slot \d+\) of libsofthsm2\.so; create one with `kubekms rootkey init/,
    );
    await expect(Pkcs11RootKey.open(target({ tokenLabel: 'nope' }))).rejects.toThrow(
      /^rootkey: libsofthsm2\.so has no token labelled "nope"; initialized tokens: slot \d+ \(token "kubekms-[ab]"\), slot \d+ \(token "kubekms-[ab]"\)$/,
    );
    await expect(Pkcs11RootKey.open(target({ tokenLabel: undefined, slot: 999_999 }))).rejects.toThrow(
      /^rootkey: libsofthsm2\.so has no token in slot 999999; initialized tokens/,
    );
    await expect(Pkcs11RootKey.open(target({ tokenLabel: undefined, slot: undefined }))).rejects.toThrow(
      /exactly one of a slot id and a token label/,
    );
  });

  it('selects by slot id as well as by token label', async () => {
    const options = target();
    const key = await created(options);
    const slot = resolveSlot(held.api, options);
    const bySlot = await Pkcs11RootKey.open({ ...options, tokenLabel: undefined, slot: slot.id });
    opened.push(bySlot);
    expect(bySlot.description).toBe(key.description);
  });

  it('refuses an extractable or short key under the label', async () => {
    const options = target({ tokenLabel: 'kubekms-b' });
    const slot = resolveSlot(held.api, options);
    const session = openLoggedInSession(held.api, slot, hsm.pin, true);
    const template = rootKeyTemplate(options.keyLabel).map((a) =>
      a.type === CKA_EXTRACTABLE ? { type: a.type, value: true } : a,
    );
    held.api.C_GenerateKey(session, { mechanism: CKM_AES_KEY_GEN }, template);
    const short = target({ tokenLabel: 'kubekms-b' });
    held.api.C_GenerateKey(
      session,
      { mechanism: CKM_AES_KEY_GEN },
      rootKeyTemplate(short.keyLabel).map((a) => (a.type === 0x161 ? { type: a.type, value: 16 } : a)),
    );
    held.api.C_CloseSession(session);
    await expect(Pkcs11RootKey.open(options)).rejects.toThrow(
      /cannot be a root key: CKA_EXTRACTABLE is true \(the key could leave the token\)$/,
    );
    await expect(Pkcs11RootKey.open(short)).rejects.toThrow(
      /cannot be a root key: it is AES-128, not AES-256$/,
    );
  });

  it('refuses a module path that is not a PKCS#11 library, naming the flag', async () => {
    await expect(Pkcs11RootKey.open(target({ modulePath: '/tmp/kubekms-hsm-no-such.so' }))).rejects.toThrow(
      /^rootkey: cannot load the PKCS#11 module \/tmp\/kubekms-hsm-no-such\.so: .*\(check --pkcs11-module\)$/,
    );
  });

  it('test setup: a missing SoftHSM2 fails with the package to install (tests fail, never skip)', () => {
    expect(() => requireSoftHsm('/tmp/kubekms-hsm-absent/libsofthsm2.so')).toThrow(
      'SoftHSM2 is not installed (/tmp/kubekms-hsm-absent/libsofthsm2.so and softhsm2-util are needed): the pkcs11 ' +
        'root-key tests run against it. Install the Debian package: apt-get install softhsm2 (.ci/run does this on CI).',
    );
  });

  it('explains how to install the binding when the package is missing', async () => {
    const err = await importBinding('kubekms-no-such-pkcs11-binding').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyError);
    expect((err as Error).message).toMatch(
      /^rootkey: the pkcs11 root key needs the optional npm package kubekms-no-such-pkcs11-binding .*npm install kubekms-no-such-pkcs11-binding/,
    );
  });
});
