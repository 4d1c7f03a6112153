/**
 * A PKCS#11 module (shared library) is initialized once per process: a second C_Initialize answers
 * CKR_CRYPTOKI_ALREADY_INITIALIZED and one C_Finalize ends every session of the process. This registry loads each
 * module path once, counts its users, and calls C_Finalize when the last one releases it.
 */
import { basename } from 'node:path';
import { RootKeyError } from './errors.ts';
import {
  CKF_OS_LOCKING_OK,
  CKR,
  ckrCode,
  ckrName,
  loadPkcs11Binding,
  type Pkcs11Api,
  type Pkcs11Binding,
} from './pkcs11-binding.ts';

export interface Pkcs11Module {
  readonly path: string;
  readonly api: Pkcs11Api;
  /** The binding's parameter-structure tag for CK_GCM_PARAMS (v2.40). */
  readonly gcmParamsType: number;
  /** Gives the module back; the last release calls C_Finalize and unloads it. Idempotent per acquisition. */
  release(): void;
}

interface Entry {
  readonly api: Pkcs11Api;
  readonly gcmParamsType: number;
  refs: number;
}

const modules = new Map<string, Promise<Entry>>();

/**
 * Loads (once) and initializes the module at `path`; every call must be matched by one `release()`.
 * `binding` replaces the npm binding (tests only).
 */
export async function acquirePkcs11Module(
  path: string,
  binding: () => Promise<Pkcs11Binding> = loadPkcs11Binding,
): Promise<Pkcs11Module> {
  let pending = modules.get(path);
  if (pending === undefined) {
    pending = initialize(path, binding);
    modules.set(path, pending);
    pending.catch(() => modules.delete(path));
  }
  const entry = await pending;
  entry.refs++;
  let released = false;
  return {
    path,
    api: entry.api,
    gcmParamsType: entry.gcmParamsType,
    release: () => {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs > 0) return;
      modules.delete(path);
      try {
        entry.api.C_Finalize();
      } catch {
        // Finalizing a module whose device is gone may fail; the process is done with it either way.
      }
      try {
        entry.api.close();
      } catch {
        // Same: nothing left to do with an unloadable library.
      }
    },
  };
}

async function initialize(path: string, binding: () => Promise<Pkcs11Binding>): Promise<Entry> {
  const b = await binding();
  const api = b.create();
  try {
    api.load(path);
  } catch (e) {
    throw new RootKeyError(
      `rootkey: cannot load the PKCS#11 module ${path}: ${ckrName(e)} (check --pkcs11-module)`,
      { cause: e },
    );
  }
  try {
    api.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (e) {
    // Another loader in this process (not through this registry) already initialized it: usable as it is.
    if (ckrCode(e) !== CKR.CRYPTOKI_ALREADY_INITIALIZED) {
      try {
        api.close();
      } catch {
        // ignored: the initialization error is the one to report
      }
      throw new RootKeyError(`rootkey: C_Initialize of ${basename(path)} failed: ${ckrName(e)}`, {
        cause: e,
      });
    }
  }
  return { api, gcmParamsType: b.gcmParamsType, refs: 0 };
}
