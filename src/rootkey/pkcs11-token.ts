/**
 * Token-level steps shared by the pkcs11 root key and `kubekms rootkey init`: find the slot (by id or by token
 * label), open a logged-in session, find the root key object by label and check that it is a non-extractable,
 * sensitive AES-256 key, and create such a key. Error messages name the module, slot, token and key label, never
 * the PIN.
 */
import { basename } from 'node:path';
import { RootKeyError, RootKeyExistsError } from './errors.ts';
import {
  type Attribute,
  CKA_CLASS,
  CKA_DECRYPT,
  CKA_ENCRYPT,
  CKA_EXTRACTABLE,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_PRIVATE,
  CKA_SENSITIVE,
  CKA_TOKEN,
  CKA_VALUE_LEN,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKF_TOKEN_INITIALIZED,
  CKK_AES,
  CKM_AES_KEY_GEN,
  CKO_SECRET_KEY,
  CKR,
  CKU_USER,
  ckrCode,
  ckrName,
  type Handle,
  type Pkcs11Api,
  slotId,
} from './pkcs11-binding.ts';

/** Where the root key lives: a module, a slot (by id or token label) and the key's CKA_LABEL. */
export interface Pkcs11Target {
  /** Path of the PKCS#11 module (shared library). */
  readonly modulePath: string;
  /** Slot id; exactly one of `slot` and `tokenLabel`. */
  readonly slot?: number | bigint | undefined;
  /** Token label (CK_TOKEN_INFO.label, trailing blanks ignored); exactly one of `slot` and `tokenLabel`. */
  readonly tokenLabel?: string | undefined;
  /** CKA_LABEL of the AES key. */
  readonly keyLabel: string;
}

export interface ResolvedSlot {
  readonly handle: Handle;
  readonly id: bigint;
  readonly tokenLabel: string;
  /** CK_TOKEN_INFO.serialNumber, trailing blanks removed. */
  readonly serial: string;
}

export const ROOT_KEY_BYTES = 32;

/** Checks the target's shape; the CLI turns these into usage errors first, so this guards the API. */
export function checkTarget(target: Pkcs11Target): void {
  const hasSlot = target.slot !== undefined;
  const hasLabel = target.tokenLabel !== undefined && target.tokenLabel !== '';
  if (hasSlot === hasLabel)
    throw new RootKeyError('rootkey: pkcs11: give exactly one of a slot id and a token label');
  if (hasSlot && BigInt(target.slot!) < 0n) throw new RootKeyError('rootkey: pkcs11: slot id must be ≥ 0');
  if (target.keyLabel === '') throw new RootKeyError('rootkey: pkcs11: the key label is empty');
  if (target.modulePath === '') throw new RootKeyError('rootkey: pkcs11: the module path is empty');
}

/** Finds the slot of the target among the slots with a token present. */
export function resolveSlot(api: Pkcs11Api, target: Pkcs11Target): ResolvedSlot {
  const module = basename(target.modulePath);
  let slots: ResolvedSlot[];
  try {
    slots = api.C_GetSlotList(true).map((handle) => {
      const info = api.C_GetTokenInfo(handle);
      const initialized = (info.flags & CKF_TOKEN_INITIALIZED) !== 0;
      const tokenLabel = initialized ? info.label.trimEnd() : '';
      return { handle, id: slotId(handle), tokenLabel, serial: info.serialNumber.trimEnd() };
    });
  } catch (e) {
    throw new RootKeyError(`rootkey: cannot list the slots of ${module}: ${ckrName(e)}`, { cause: e });
  }
  const known = slots
    .filter((s) => s.tokenLabel !== '')
    .map((s) => `slot ${s.id} (token ${JSON.stringify(s.tokenLabel)})`);
  const listing =
    known.length > 0 ? `; initialized tokens: ${known.join(', ')}` : '; it has no initialized token';
  if (target.slot !== undefined) {
    const want = BigInt(target.slot);
    const slot = slots.find((s) => s.id === want);
    if (slot === undefined)
      throw new RootKeyError(`rootkey: ${module} has no token in slot ${want}${listing}`);
    if (slot.tokenLabel === '')
      throw new RootKeyError(`rootkey: the token in slot ${want} of ${module} is not initialized${listing}`);
    return slot;
  }
  const matches = slots.filter((s) => s.tokenLabel === target.tokenLabel);
  if (matches.length === 0)
    throw new RootKeyError(
      `rootkey: ${module} has no token labelled ${JSON.stringify(target.tokenLabel)}${listing}`,
    );
  if (matches.length > 1)
    throw new RootKeyError(
      `rootkey: ${module} has ${matches.length} tokens labelled ${JSON.stringify(target.tokenLabel)}; ` +
        `select one with its slot id${listing}`,
    );
  return matches[0]!;
}

/** Opens a session on the slot and logs the user in (a login already held by the process is fine). */
export function openLoggedInSession(
  api: Pkcs11Api,
  slot: ResolvedSlot,
  pin: string,
  readWrite: boolean,
): Handle {
  const where = `token ${JSON.stringify(slot.tokenLabel)} (slot ${slot.id})`;
  let session: Handle;
  try {
    session = api.C_OpenSession(slot.handle, CKF_SERIAL_SESSION | (readWrite ? CKF_RW_SESSION : 0));
  } catch (e) {
    throw new RootKeyError(`rootkey: cannot open a session on ${where}: ${ckrName(e)}`, { cause: e });
  }
  try {
    api.C_Login(session, CKU_USER, pin);
  } catch (e) {
    if (ckrCode(e) === CKR.USER_ALREADY_LOGGED_IN) return session;
    closeQuietly(api, session);
    const hint =
      ckrCode(e) === CKR.PIN_INCORRECT || ckrCode(e) === CKR.PIN_LOCKED
        ? ' (check --pkcs11-pin-file or KUBEKMS_PKCS11_PIN)'
        : '';
    throw new RootKeyError(`rootkey: login to ${where} failed: ${ckrName(e)}${hint}`, { cause: e });
  }
  return session;
}

export function closeQuietly(api: Pkcs11Api, session: Handle): void {
  try {
    api.C_CloseSession(session);
  } catch {
    // The session may already be gone (that is often why it is being closed).
  }
}

/** Every secret-key object labelled `label` (the caller logged in, so private objects are visible). */
export function findSecretKeys(api: Pkcs11Api, session: Handle, label: string): Handle[] {
  api.C_FindObjectsInit(session, [
    { type: CKA_CLASS, value: CKO_SECRET_KEY },
    { type: CKA_LABEL, value: label },
  ]);
  try {
    return api.C_FindObjects(session, 16);
  } finally {
    api.C_FindObjectsFinal(session);
  }
}

/**
 * Finds the root key by label and checks it: exactly one object, AES, 32 bytes, sensitive, not extractable,
 * usable for encrypt and decrypt. Session-level errors (CKR_*) propagate unchanged so the caller can re-open.
 */
export function findRootKey(
  api: Pkcs11Api,
  session: Handle,
  slot: ResolvedSlot,
  target: Pkcs11Target,
): Handle {
  const where = `token ${JSON.stringify(slot.tokenLabel)} (slot ${slot.id}) of ${basename(target.modulePath)}`;
  const label = JSON.stringify(target.keyLabel);
  const found = findSecretKeys(api, session, target.keyLabel);
  if (found.length === 0)
    throw new RootKeyError(
      `rootkey: no secret key labelled ${label} in ${where}; create one with ` +
        '`kubekms rootkey init --pkcs11-module … --slot …|--token-label … --label …`',
    );
  if (found.length > 1)
    throw new RootKeyError(
      `rootkey: ${found.length} secret keys are labelled ${label} in ${where}; labels must be unique`,
    );
  const key = found[0]!;
  const attrs = api.C_GetAttributeValue(session, key, [
    { type: CKA_KEY_TYPE },
    { type: CKA_VALUE_LEN },
    { type: CKA_SENSITIVE },
    { type: CKA_EXTRACTABLE },
    { type: CKA_ENCRYPT },
    { type: CKA_DECRYPT },
  ]);
  const problems: string[] = [];
  if (ulong(attrs[0]) !== CKK_AES) problems.push('it is not an AES key');
  else if (ulong(attrs[1]) !== ROOT_KEY_BYTES) problems.push(`it is AES-${ulong(attrs[1]) * 8}, not AES-256`);
  if (!bool(attrs[2])) problems.push('CKA_SENSITIVE is false');
  if (bool(attrs[3])) problems.push('CKA_EXTRACTABLE is true (the key could leave the token)');
  if (!bool(attrs[4]) || !bool(attrs[5])) problems.push('CKA_ENCRYPT and CKA_DECRYPT must both be true');
  if (problems.length > 0)
    throw new RootKeyError(
      `rootkey: the key labelled ${label} in ${where} cannot be a root key: ${problems.join('; ')}`,
    );
  return key;
}

/** The template of a new root key: a token object, private, sensitive, never extractable, AES-256. */
export function rootKeyTemplate(label: string): Attribute[] {
  return [
    { type: CKA_CLASS, value: CKO_SECRET_KEY },
    { type: CKA_KEY_TYPE, value: CKK_AES },
    { type: CKA_VALUE_LEN, value: ROOT_KEY_BYTES },
    { type: CKA_LABEL, value: label },
    { type: CKA_TOKEN, value: true },
    { type: CKA_PRIVATE, value: true },
    { type: CKA_SENSITIVE, value: true },
    { type: CKA_EXTRACTABLE, value: false },
    { type: CKA_ENCRYPT, value: true },
    { type: CKA_DECRYPT, value: true },
  ];
}

/** Generates the root key inside the token (CKM_AES_KEY_GEN). Refuses when a key with the label exists. */
export function generateRootKey(
  api: Pkcs11Api,
  session: Handle,
  slot: ResolvedSlot,
  target: Pkcs11Target,
): void {
  const where = `token ${JSON.stringify(slot.tokenLabel)} (slot ${slot.id})`;
  if (findSecretKeys(api, session, target.keyLabel).length > 0)
    throw new RootKeyExistsError(`a key labelled ${JSON.stringify(target.keyLabel)} in ${where}`);
  try {
    api.C_GenerateKey(session, { mechanism: CKM_AES_KEY_GEN }, rootKeyTemplate(target.keyLabel));
  } catch (e) {
    throw new RootKeyError(`rootkey: C_GenerateKey (AES-256) in ${where} failed: ${ckrName(e)}`, {
      cause: e,
    });
  }
}

function ulong(a: Attribute | undefined): number {
  const v = a?.value;
  if (Buffer.isBuffer(v))
    return v.length >= 8 ? Number(v.readBigUInt64LE(0)) : v.length >= 4 ? v.readUInt32LE(0) : -1;
  return typeof v === 'number' ? v : -1;
}

function bool(a: Attribute | undefined): boolean {
  const v = a?.value;
  if (Buffer.isBuffer(v)) return v.length > 0 && v[0] !== 0;
  return v === true;
}
