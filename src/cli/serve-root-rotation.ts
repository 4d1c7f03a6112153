/**
 * Online root-key rotation in a running single-node serve (docs/adr/0024), asked for through the admin socket
 * (`{"op":"rotateRootKey","to":{…}}`, sent by `kubekms rootkey rotate` when serve answers on the data dir). Serve
 * opens the new root key itself (a file path, or the pkcs11 settings with a PIN file or serve's own
 * KUBEKMS_TO_PKCS11_PIN / KUBEKMS_PKCS11_PIN), then — serialized with every engine mutation — the keystore writes
 * the whole state re-wrapped under it in one transaction, the root key every later wrap uses is switched, and the
 * engine's records take the new wraps. The key material in memory does not change, so Encrypt and Decrypt keep
 * answering throughout. With --shared-state the rotation has two phases instead (src/ha/root-rotation.ts,
 * docs/adr/0026): `stageRootKey` holds the new root, `rotateRootKey` moves the records once every live instance
 * holds it.
 */
import type { EngineCore } from '../engine/core.ts';
import type { RootKey } from '../engine/ports.ts';
import type { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import type { Logger } from '../observability/logger.ts';
import { openRootKey, type RootKeyOptions } from '../rootkey/root-key-config.ts';
import type { SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { pkcs11Settings } from './root-key-flags.ts';

/** The new root key as the admin request names it (the `--to-*` flags of `rootkey rotate`). */
export type NewRoot = Pick<RootKeyOptions, 'provider' | 'pkcs11' | 'rootKeyFile' | 'dev'>;

export interface RootRotated {
  readonly ok: true;
  readonly keys: number;
  readonly versions: number;
  readonly records: number;
  readonly from: string;
  readonly to: string;
}

export type RootRotation = (to: NewRoot) => Promise<RootRotated>;

/** The answer to `stageRootKey` (HA phase 1): the root now held staged, and the current one. */
export interface RootStaged {
  readonly ok: true;
  readonly staged: string;
  readonly current: string;
}

export type RootStaging = (to: NewRoot) => Promise<RootStaged>;

/** Opens the root key a request names; its PIN from KUBEKMS_TO_PKCS11_PIN, else KUBEKMS_PKCS11_PIN. */
export function openNewRoot(spec: NewRoot, dataDir: string, log: Logger): Promise<RootKey> {
  const env = process.env;
  return openRootKey({
    ...spec,
    dataDir,
    log,
    env: { KUBEKMS_PKCS11_PIN: env.KUBEKMS_TO_PKCS11_PIN ?? env.KUBEKMS_PKCS11_PIN },
  });
}

/** The rotation of a serve whose keystore is `store` and whose engine and store wrap with `root`. */
export function rootRotation(
  core: EngineCore,
  store: SqliteKeyStore,
  root: SwitchableRootKey,
  dataDir: string,
  log: Logger,
): RootRotation {
  return async (spec) => {
    const to = await openNewRoot(spec, dataDir, log);
    const from = root.current;
    let rotated: RootRotated | undefined;
    await core.replaceWrapping(async (keys) => {
      const state = { keys: [...keys], aliases: core.allAliases(), grants: core.allGrants() };
      const next = await store.switchRoot(from, to, state);
      root.switchTo(to);
      rotated = {
        ok: true,
        keys: next.keys.length,
        versions: next.keys.reduce((n, k) => n + k.versions.length, 0),
        records: next.keys.length + next.aliases.length + next.grants.length,
        from: from.description,
        to: to.description,
      };
      return next.keys;
    });
    if (rotated === undefined) throw new Error('root rotation: did not run');
    log.warn(
      { audit: 'admin', op: 'rotateRootKey', from: rotated.from, to: rotated.to, keys: rotated.keys },
      'root key rotated online: start serve with the new root key flags from now on',
    );
    return rotated;
  };
}

/** Reads the `to` of a rotateRootKey request; throws naming the field. */
export function parseNewRoot(v: unknown): NewRoot {
  if (typeof v !== 'object' || v === null) throw new Error('to: the new root key (an object)');
  const o = v as Record<string, unknown>;
  const text = (x: unknown, field: string): string | undefined => {
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || x === '' || x.length > 1024)
      throw new Error(`${field}: not a path or label`);
    return x;
  };
  if (o.provider === 'file') {
    const rootKeyFile = text(o.rootKeyFile, 'to.rootKeyFile');
    if (rootKeyFile === undefined) throw new Error('to.rootKeyFile: required');
    return { provider: 'file', rootKeyFile, dev: false };
  }
  if (o.provider !== 'pkcs11') throw new Error('to.provider: file or pkcs11');
  const p = (typeof o.pkcs11 === 'object' && o.pkcs11 !== null ? o.pkcs11 : {}) as Record<string, unknown>;
  if (p.slot !== undefined && (typeof p.slot !== 'number' || !Number.isInteger(p.slot)))
    throw new Error('to.pkcs11.slot: not a whole number');
  const pkcs11 = pkcs11Settings(
    {
      modulePath: text(p.modulePath, 'to.pkcs11.modulePath'),
      slot: p.slot as number | undefined,
      tokenLabel: text(p.tokenLabel, 'to.pkcs11.tokenLabel'),
      keyLabel: text(p.keyLabel, 'to.pkcs11.keyLabel'),
      pinFile: text(p.pinFile, 'to.pkcs11.pinFile'),
    },
    'for the new root key',
  );
  return { provider: 'pkcs11', dev: false, pkcs11 };
}
