/**
 * Preflight for cluster mode: runs the standalone operation against a view of the engine whose `mutate` computes
 * the change and then discards it. Everything the engine checks (input validation, the key policy and grants,
 * key state, limits) runs exactly as in standalone mode, before any custom resource is written; the discarded
 * change is what the cluster-mode handler translates into a KmsKey, KmsAlias or KmsGrant.
 */
import type { EngineCore } from '../../engine/core.ts';
import type { StoreChange } from '../../engine/records.ts';
import type { SecretBytes } from '../../engine/secret.ts';

class Discarded {
  readonly change: StoreChange;
  constructor(change: StoreChange) {
    this.change = change;
  }
}

export type Preflight<R> =
  /** The operation would change the engine: this is the change. */
  | { readonly kind: 'change'; readonly change: StoreChange }
  /** The operation completed without changing anything (a no-op, or an idempotent repeat): its result. */
  | { readonly kind: 'done'; readonly result: R };

/** Every member of a StoreChange is a list: the change is empty when all of them are. */
const isEmpty = (c: StoreChange): boolean => !Object.values(c).some((v) => Array.isArray(v) && v.length > 0);

/** A view of `core` that shares its state but never commits: a non-empty change ends the operation. */
export function dryRunCore(core: EngineCore): EngineCore {
  const view = Object.create(core) as EngineCore;
  const mutate = async <T>(
    fn: () => Promise<{
      change: StoreChange;
      result: T;
      material?: ReadonlyMap<string, ReadonlyMap<number, SecretBytes>>;
    }>,
  ): Promise<T> => {
    const { change, result, material } = await fn();
    for (const versions of material?.values() ?? []) for (const s of versions.values()) s.wipe();
    if (isEmpty(change)) return result;
    throw new Discarded(change);
  };
  Object.defineProperty(view, 'mutate', { value: mutate });
  return view;
}

/** Runs `op` on a dry-run view of `core`. Engine errors (validation, authorization, state) propagate. */
export async function preflight<R>(
  core: EngineCore,
  op: (dry: EngineCore) => R | Promise<R>,
): Promise<Preflight<R>> {
  try {
    return { kind: 'done', result: await op(dryRunCore(core)) };
  } catch (e) {
    if (e instanceof Discarded) return { kind: 'change', change: e.change };
    throw e;
  }
}
