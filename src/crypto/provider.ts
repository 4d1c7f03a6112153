/** Chooses the CryptoProvider by name: 'node' (node:crypto, the default and the fast one) or 'noble' (pure JS). */
import type { CryptoProvider } from '../engine/ports.ts';
import { nobleCrypto } from './noble-provider.ts';
import { nodeCrypto } from './node-provider.ts';

export const CRYPTO_PROVIDER_NAMES = ['node', 'noble'] as const;
export type CryptoProviderName = (typeof CRYPTO_PROVIDER_NAMES)[number];

export function selectCryptoProvider(name: CryptoProviderName): CryptoProvider {
  switch (name) {
    case 'node':
      return nodeCrypto;
    case 'noble':
      return nobleCrypto;
  }
}
