/**
 * A KeyStore that keeps nothing: the cache of a one-shot command (`kubekms key rotate --shared-state`) whose
 * state comes from the Kubernetes API and lives only in memory.
 */
import type { KeyStore } from '../engine/ports.ts';
import type { StoreChange, StoreState } from '../engine/records.ts';

export class EphemeralKeyStore implements KeyStore {
  readonly description = 'memory (not persisted)';
  async open(): Promise<StoreState> {
    return { keys: [], aliases: [], grants: [] };
  }
  async commit(_change: StoreChange): Promise<void> {}
  async close(): Promise<void> {}
}
