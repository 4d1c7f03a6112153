/**
 * The part of the PKCS#11 binding (the optional npm package `pkcs11js`, a native addon) that the pkcs11 root key
 * uses, typed here so that the project compiles and every other mode runs when the package is not installed.
 * The package is loaded with a dynamic import only when the pkcs11 provider is selected (see ADR 0010).
 *
 * Constants are the numeric values of the PKCS#11 specification (v2.40 / v3.0), which every module shares.
 */
import { RootKeyError } from './errors.ts';

/** A PKCS#11 handle (slot, session, object) as the binding passes it: a CK_ULONG in native byte order. */
export type Handle = Buffer;

export interface Attribute {
  readonly type: number;
  readonly value?: number | boolean | string | Buffer;
}

export interface GcmParameter {
  readonly type: number;
  readonly iv: Buffer;
  readonly ivBits: number;
  readonly aad?: Buffer;
  readonly tagBits: number;
}

export interface Mechanism {
  readonly mechanism: number;
  readonly parameter?: GcmParameter;
}

export interface TokenInfo {
  readonly label: string;
  readonly serialNumber: string;
  readonly flags: number;
}

/** The calls of `pkcs11js.PKCS11` used by kubekms. */
export interface Pkcs11Api {
  load(path: string): void;
  close(): void;
  C_Initialize(options?: { flags?: number }): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): TokenInfo;
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_CloseAllSessions(slot: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): Attribute[];
  C_GenerateKey(session: Handle, mechanism: Mechanism, template: Attribute[]): Handle;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_CreateObject(session: Handle, template: Attribute[]): Handle;
  C_EncryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_EncryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
  C_DecryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_DecryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
}

/** A loaded binding: a fresh API object plus the binding's own parameter-structure tags. */
export interface Pkcs11Binding {
  create(): Pkcs11Api;
  /** pkcs11js's tag for the v2.40 CK_GCM_PARAMS structure (with ulIvBits). */
  readonly gcmParamsType: number;
}

export const CKF_RW_SESSION = 0x2;
export const CKF_SERIAL_SESSION = 0x4;
export const CKF_OS_LOCKING_OK = 0x2;
export const CKF_TOKEN_INITIALIZED = 0x400;
export const CKU_USER = 1;
export const CKO_SECRET_KEY = 0x4;
export const CKK_AES = 0x1f;
export const CKM_AES_KEY_GEN = 0x1080;
export const CKM_AES_GCM = 0x1087;

export const CKA_CLASS = 0x0;
export const CKA_TOKEN = 0x1;
export const CKA_PRIVATE = 0x2;
export const CKA_LABEL = 0x3;
export const CKA_VALUE = 0x11;
export const CKA_KEY_TYPE = 0x100;
export const CKA_SENSITIVE = 0x103;
export const CKA_ENCRYPT = 0x104;
export const CKA_DECRYPT = 0x105;
export const CKA_VALUE_LEN = 0x161;
export const CKA_EXTRACTABLE = 0x162;

/** Return values the root key tells apart (CKR_*). */
export const CKR = {
  GENERAL_ERROR: 0x5,
  DATA_INVALID: 0x20,
  DATA_LEN_RANGE: 0x21,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  ENCRYPTED_DATA_INVALID: 0x40,
  ENCRYPTED_DATA_LEN_RANGE: 0x41,
  AEAD_DECRYPT_FAILED: 0x35,
  KEY_HANDLE_INVALID: 0x60,
  OBJECT_HANDLE_INVALID: 0x82,
  OPERATION_ACTIVE: 0x90,
  OPERATION_NOT_INITIALIZED: 0x91,
  PIN_INCORRECT: 0xa0,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_HANDLE_INVALID: 0xb3,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;

/** The CKR_* code of an error thrown by the binding, or undefined for any other error. */
export function ckrCode(e: unknown): number | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as Error & { code?: unknown }).code;
  if (typeof code === 'number' && /^CKR_/.test(e.message)) return code;
  return undefined;
}

/** A printable name for an error of the binding: `CKR_PIN_INCORRECT`, or the message of another error. */
export function ckrName(e: unknown): string {
  if (e instanceof Error) {
    const m = /CKR_[A-Z0-9_]+/.exec(e.message);
    if (m) return m[0];
    return e.message.split('\n')[0] ?? 'unknown error';
  }
  return String(e);
}

/** The slot id of a slot handle (a native CK_ULONG). */
export function slotId(handle: Handle): bigint {
  return handle.length >= 8 ? handle.readBigUInt64LE(0) : BigInt(handle.readUInt32LE(0));
}

export const BINDING_PACKAGE = 'pkcs11js';

interface Pkcs11jsModule {
  PKCS11: new () => Pkcs11Api;
  CK_PARAMS_AES_GCM_v240: number;
}

let loaded: Promise<Pkcs11Binding> | undefined;

/**
 * Loads `pkcs11js` with a dynamic import. Fails with a RootKeyError that says how to install it when the package
 * (or its native build) is missing.
 */
export function loadPkcs11Binding(): Promise<Pkcs11Binding> {
  loaded ??= importBinding(BINDING_PACKAGE).catch((e: unknown) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}

/** Exported for the test of the missing-package error; `specifier` is a package name. */
export async function importBinding(specifier: string): Promise<Pkcs11Binding> {
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (e) {
    throw new RootKeyError(
      `rootkey: the pkcs11 root key needs the optional npm package ${specifier} (a native addon), which is not ` +
        `installed or did not build: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}. Install it ` +
        `with \`npm install ${specifier}\` where a C++ compiler, make and python3 are available (see ` +
        'docs/root-of-trust.md)',
      { cause: e },
    );
  }
  const m = ((mod as { default?: unknown }).default ?? mod) as Partial<Pkcs11jsModule>;
  if (typeof m.PKCS11 !== 'function' || typeof m.CK_PARAMS_AES_GCM_v240 !== 'number') {
    throw new RootKeyError(`rootkey: the package ${specifier} is not a usable PKCS#11 binding`);
  }
  const Ctor = m.PKCS11;
  return { create: () => new Ctor(), gcmParamsType: m.CK_PARAMS_AES_GCM_v240 };
}
