/** The per-process module registry: one load + C_Initialize per path, C_Finalize with the last release. */
import { describe, expect, it } from 'vitest';
import { RootKeyError } from './errors.ts';
import type { Pkcs11Api, Pkcs11Binding } from './pkcs11-binding.ts';
import { acquirePkcs11Module } from './pkcs11-module.ts';

function fakeBinding(initError?: Error) {
  const calls: string[] = [];
  const api = {
    load: (path: string) => {
      calls.push(`load ${path}`);
      if (path.includes('missing')) throw new Error('dlopen: cannot open shared object file');
    },
    close: () => calls.push('close'),
    C_Initialize: (o?: { flags?: number }) => {
      calls.push(`C_Initialize flags=${o?.flags}`);
      if (initError) throw initError;
    },
    C_Finalize: () => calls.push('C_Finalize'),
  } as unknown as Pkcs11Api;
  const binding = async (): Promise<Pkcs11Binding> => ({ create: () => api, gcmParamsType: 7 });
  return { calls, binding };
}

describe('acquirePkcs11Module', () => {
  it('initializes once per path and finalizes with the last release', async () => {
    const { calls, binding } = fakeBinding();
    const [a, b] = await Promise.all([
      acquirePkcs11Module('/fake/one.so', binding),
      acquirePkcs11Module('/fake/one.so', binding),
    ]);
    expect(a.api).toBe(b.api);
    expect(a.gcmParamsType).toBe(7);
    expect(calls).toEqual(['load /fake/one.so', 'C_Initialize flags=2']);
    a.release();
    a.release(); // idempotent: does not count twice
    expect(calls).not.toContain('C_Finalize');
    b.release();
    expect(calls.slice(2)).toEqual(['C_Finalize', 'close']);
    const c = await acquirePkcs11Module('/fake/one.so', binding);
    expect(calls.slice(4)).toEqual(['load /fake/one.so', 'C_Initialize flags=2']);
    c.release();
  });

  it('accepts a module another loader already initialized', async () => {
    const already = Object.assign(new Error('CKR_CRYPTOKI_ALREADY_INITIALIZED'), { code: 0x191 });
    const { binding } = fakeBinding(already);
    const m = await acquirePkcs11Module('/fake/two.so', binding);
    m.release();
  });

  it('names the module when it cannot be loaded or initialized, and retries on the next acquire', async () => {
    const { binding } = fakeBinding();
    const err = await acquirePkcs11Module('/fake/missing.so', binding).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyError);
    expect((err as Error).message).toBe(
      'rootkey: cannot load the PKCS#11 module /fake/missing.so: dlopen: cannot open shared object file (check --pkcs11-module)',
    );
    const failing = fakeBinding(Object.assign(new Error('CKR_GENERAL_ERROR'), { code: 5 }));
    await expect(acquirePkcs11Module('/fake/three.so', failing.binding)).rejects.toThrow(
      /^rootkey: C_Initialize of three\.so failed: CKR_GENERAL_ERROR$/,
    );
    expect(failing.calls).toContain('close');
    const ok = fakeBinding();
    const m = await acquirePkcs11Module('/fake/three.so', ok.binding);
    expect(ok.calls[0]).toBe('load /fake/three.so');
    m.release();
  });
});
