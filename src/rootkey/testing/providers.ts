/**
 * Both root-of-trust providers for parameterised suites (`describe.each(ROOT_KEY_PROVIDERS)`): a file root key
 * and an AES-256 key in a SoftHSM2 token. `open(name)` returns a new instance of the same root key each time (as
 * a restart would), `serveArgs(name)` the flags of `kubekms serve` that select it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootKey } from '../../engine/ports.ts';
import { FileRootKey } from '../file-root-key.ts';
import { Pkcs11RootKey } from '../pkcs11-root-key.ts';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from './softhsm.ts';

export type ProviderName = 'file' | 'pkcs11';
export const ROOT_KEY_PROVIDERS: readonly ProviderName[] = ['file', 'pkcs11'];

export const TOKEN_LABEL = 'kubekms-test';
export const KEY_LABEL = 'kubekms-root';

export class ProviderFixtures {
  readonly hsm: SoftHsm;
  readonly keyFile: string;
  readonly pinFile: string;
  readonly #opened: Pkcs11RootKey[] = [];

  private constructor(hsm: SoftHsm) {
    this.hsm = hsm;
    this.keyFile = join(hsm.dir, 'root.key');
    this.pinFile = join(hsm.dir, 'pin');
  }

  /**
   * Creates the SoftHSM2 token (and points this process's SOFTHSM2_CONF at it), the HSM key and the key file.
   * Call before any other pkcs11 use in the process (SoftHSM2 scans tokens at C_Initialize).
   */
  static async create(): Promise<ProviderFixtures> {
    const hsm = await createSoftHsm([TOKEN_LABEL]);
    process.env.SOFTHSM2_CONF = hsm.conf;
    const f = new ProviderFixtures(hsm);
    await FileRootKey.create(f.keyFile);
    await writeFile(f.pinFile, `${hsm.pin}\n`, { mode: 0o600 });
    const key = await Pkcs11RootKey.create(f.#pkcs11Options());
    await key.close();
    return f;
  }

  #pkcs11Options() {
    return { modulePath: SOFTHSM_MODULE, tokenLabel: TOKEN_LABEL, keyLabel: KEY_LABEL, pin: this.hsm.pin };
  }

  /** A new instance of the provider's root key. */
  async open(name: ProviderName): Promise<RootKey> {
    if (name === 'file') return FileRootKey.load(this.keyFile);
    const key = await Pkcs11RootKey.open(this.#pkcs11Options());
    this.#opened.push(key);
    return key;
  }

  /** The flags of `kubekms serve` that select the provider's root key. */
  serveArgs(name: ProviderName): string[] {
    if (name === 'file') return ['--root-key-file', this.keyFile];
    return [
      '--root-key-provider',
      'pkcs11',
      '--pkcs11-module',
      SOFTHSM_MODULE,
      '--pkcs11-token-label',
      TOKEN_LABEL,
      '--pkcs11-key-label',
      KEY_LABEL,
      '--pkcs11-pin-file',
      this.pinFile,
    ];
  }

  async cleanup(): Promise<void> {
    for (const k of this.#opened.splice(0)) await k.close();
    await this.hsm.cleanup();
  }
}
