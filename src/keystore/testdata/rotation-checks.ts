/** What root-key rotation tests compare: a state without its wrapped material, and the material it unwraps to. */
import type { RootKey } from '../../engine/ports.ts';
import { keyMaterialAad, type StoreState } from '../../engine/records.ts';

/** Every version's material, unwrapped under `rootKey`, by `keyId/version` (hex). */
export async function materials(state: StoreState, rootKey: RootKey): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of state.keys)
    for (const v of k.versions) {
      const m = await rootKey.unwrap(v.wrappedMaterial, keyMaterialAad(k.keyId, v.version));
      out.set(`${k.keyId}/${v.version}`, Buffer.from(m.unsafeBytes()).toString('hex'));
      m.wipe();
    }
  return out;
}

/** The state without its wrapped material (which a rotation changes). */
export function withoutMaterial(state: StoreState): unknown {
  return {
    ...state,
    keys: state.keys.map((k) => ({
      ...k,
      versions: k.versions.map(({ wrappedMaterial: _, ...v }) => v),
    })),
  };
}
