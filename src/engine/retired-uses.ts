/**
 * The log of decrypts under retired key versions (ops-retirement.ts), in memory: the last allowed use of each
 * version (the maintenance sweep persists it as the version's lastUsedAt), and listeners told of every attempt,
 * allowed or refused (metrics, audit lines, Events). Holds ids and numbers only, never key material.
 */
import type { KeyManager } from './records.ts';

export type RetiredRefusal = 'DecryptDisabled' | 'PendingDestruction';

export interface RetiredUse {
  readonly keyId: string;
  readonly version: number;
  readonly keyManager: KeyManager;
  /** Absent: the decrypt was allowed (and counts as a use); present: it was refused, and why. */
  readonly refused?: RetiredRefusal;
  readonly at: number;
}

export type RetiredUseListener = (use: RetiredUse) => void;

const slot = (keyId: string, version: number): string => `${keyId}\0${version}`;

export class RetiredUseLog {
  readonly #last = new Map<string, { keyId: string; version: number; at: number }>();
  readonly #listeners: RetiredUseListener[] = [];

  onUse(listener: RetiredUseListener): void {
    this.#listeners.push(listener);
  }

  record(use: RetiredUse): void {
    if (use.refused === undefined) {
      this.#last.set(slot(use.keyId, use.version), { keyId: use.keyId, version: use.version, at: use.at });
    }
    for (const l of this.#listeners) {
      try {
        l(use);
      } catch {
        // A listener (metrics, logging) never fails a decrypt.
      }
    }
  }

  /** The last allowed use of `version` of `keyId` seen by this process, or undefined. */
  lastUse(keyId: string, version: number): number | undefined {
    return this.#last.get(slot(keyId, version))?.at;
  }

  /** Every version used since this process started, with its last use. */
  entries(): { keyId: string; version: number; at: number }[] {
    return [...this.#last.values()];
  }
}
