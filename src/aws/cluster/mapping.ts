/**
 * Cluster mode, the pure half: AWS requests (as the engine would apply them) → kubekms.io objects and merge
 * patches. The engine's records come from a dry run of the standalone operation (dry-run.ts), so every value here
 * has already passed the engine's validation; what remains is the translation, and refusing what the custom
 * resources cannot express (a `*` principal, management actions in a key policy).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  API_VERSION,
  type KmsAlias,
  type KmsGrant,
  type KmsKey,
  type KmsKeySpec,
  OWNER_TAG,
  type PolicyStatementSpec,
  type PrincipalSpec,
} from '../../api/kinds.ts';
import { KmsError } from '../../engine/errors.ts';
import type { KeyPolicy } from '../../engine/policy.ts';
import { GRANT_OPERATIONS, type GrantRecord, type KeyRecord } from '../../engine/records.ts';

/** The KmsKey that owns an engine key (its `kubekms.io/owner` tag), if any. */
export function ownerOfKey(r: KeyRecord): { namespace: string; name: string } | undefined {
  const owner = r.tags[OWNER_TAG];
  const i = owner?.indexOf('/') ?? -1;
  if (owner === undefined || i <= 0) return undefined;
  return { namespace: owner.slice(0, i), name: owner.slice(i + 1) };
}

const SA = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([^:]+)$/;

/** A kubekms principal name → the CRDs' principal: service account, `group:NAME` or a user. `*` has no form. */
export function principalSpecOf(name: string, field: string, error = 'ValidationException'): PrincipalSpec {
  if (name === '*') {
    throw new KmsError(
      error as 'ValidationException',
      `${field}: the principal "*" cannot be expressed in a KmsKey or KmsGrant (cluster mode); name service accounts, users or group:NAME`,
      field,
    );
  }
  const sa = SA.exec(name);
  if (sa) return { serviceAccount: { namespace: sa[1]!, name: sa[3]! } };
  if (name.startsWith('group:')) return { group: name.slice('group:'.length) };
  return { user: name };
}

/** The usage operations a policy action covers: `kms:*`, a prefix wildcard such as `kms:Generate*`, or one action. */
export function usageOperationsOf(action: string): string[] {
  if (!action.startsWith('kms:')) return action === '*' ? [...GRANT_OPERATIONS] : [];
  const a = action.slice(4);
  if (a.endsWith('*')) return GRANT_OPERATIONS.filter((op) => op.startsWith(a.slice(0, -1)));
  return (GRANT_OPERATIONS as readonly string[]).includes(a) ? [a] : [];
}

/**
 * The engine's key policy → KmsKey `spec.policy`. A KmsKey policy names usage operations only (administration is
 * Kubernetes RBAC on the object, and admin credentials on the AWS API), so an action that covers no usage
 * operation (kms:PutKeyPolicy, kms:Disable*) is refused rather than dropped; wildcards become the usage
 * operations they cover.
 */
export function policyToSpec(p: KeyPolicy): { statements: PolicyStatementSpec[] } {
  return {
    statements: p.statements.map((s, i) => {
      const ops = new Set<string>();
      for (const a of s.actions) {
        const covered = usageOperationsOf(a);
        if (covered.length === 0) {
          throw new KmsError(
            'MalformedPolicyDocumentException',
            `Statement[${i}].Action ${a}: in cluster mode a key policy grants usage operations only (${GRANT_OPERATIONS.join(', ')}); key administration is for admin credentials and Kubernetes RBAC on the KmsKey`,
            'Policy',
          );
        }
        for (const op of covered) ops.add(op);
      }
      return {
        effect: s.effect,
        subjects: s.principals.map((pr) =>
          principalSpecOf(pr, `Policy Statement[${i}].Principal`, 'MalformedPolicyDocumentException'),
        ),
        operations: GRANT_OPERATIONS.filter((op) => ops.has(op)),
      };
    }),
  };
}

/** Tags a KmsKey spec may hold: the engine's, without the ones the operator sets itself. */
const userTags = (tags: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(tags).filter(([k]) => !k.startsWith('kubekms.io/')));

/** CreateKey: the KmsKey for the key record a dry run of CreateKey produced (named by the API server). */
export function newKmsKey(namespace: string, r: KeyRecord): KmsKey {
  const spec: KmsKeySpec = {
    description: r.description,
    keySpec: r.keySpec,
    keyUsage: r.keyUsage,
    enabled: true,
    policy: policyToSpec(r.policy),
    ...(Object.keys(userTags(r.tags)).length > 0 ? { tags: userTags(r.tags) } : {}),
  };
  return {
    apiVersion: API_VERSION,
    kind: 'KmsKey',
    metadata: {
      generateName: 'aws-',
      namespace,
      labels: { 'app.kubernetes.io/created-by': 'kubekms-aws-api' },
    },
    spec,
  } as unknown as KmsKey;
}

/**
 * The merge patch of a KmsKey's spec that makes the operator apply what the engine did in the dry run
 * (`before` → `after`), or undefined when nothing the spec holds changed.
 */
export function keySpecPatch(
  o: KmsKey,
  before: KeyRecord,
  after: KeyRecord,
): Record<string, unknown> | undefined {
  const spec: Record<string, unknown> = {};
  if (before.state !== after.state && (after.state === 'Enabled' || after.state === 'Disabled')) {
    spec.enabled = after.state === 'Enabled';
  }
  if (before.description !== after.description) spec.description = after.description;
  if (!isDeepStrictEqual(before.rotation, after.rotation)) {
    spec.rotation = { enabled: after.rotation.enabled, periodDays: after.rotation.periodDays };
  }
  if (!isDeepStrictEqual(before.policy, after.policy)) spec.policy = policyToSpec(after.policy);
  const want = userTags(after.tags);
  if (!isDeepStrictEqual(userTags(before.tags), want)) {
    const tags: Record<string, string | null> = { ...want };
    for (const k of Object.keys(o.spec?.tags ?? {})) if (!(k in want)) tags[k] = null;
    spec.tags = tags;
  }
  return Object.keys(spec).length > 0 ? { spec } : undefined;
}

/** A DNS-1123 object name for an alias: readable part + a hash of the exact (case-sensitive) alias name. */
export function aliasObjectName(aliasName: string): string {
  const readable = aliasName
    .replace(/^alias\//, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  const hash = createHash('sha256').update(aliasName).digest('hex').slice(0, 10);
  return `alias-${readable ? `${readable}-` : ''}${hash}`;
}

/** CreateAlias: a KmsAlias next to the target key's KmsKey. */
export function newKmsAlias(aliasName: string, target: { namespace: string; name: string }): KmsAlias {
  return {
    apiVersion: API_VERSION,
    kind: 'KmsAlias',
    metadata: { name: aliasObjectName(aliasName), namespace: target.namespace },
    spec: { aliasName, targetKeyRef: { name: target.name } },
  };
}

/** CreateGrant: a KmsGrant next to the key's KmsKey, for the grant record a dry run produced. */
export function newKmsGrant(g: GrantRecord, key: { namespace: string; name: string }): KmsGrant {
  const c = g.constraints;
  return {
    apiVersion: API_VERSION,
    kind: 'KmsGrant',
    metadata: { generateName: 'aws-grant-', namespace: key.namespace },
    spec: {
      keyRef: { name: key.name },
      grantee: principalSpecOf(g.granteePrincipal, 'GranteePrincipal'),
      ...(g.retiringPrincipal !== undefined
        ? { retiringPrincipal: principalSpecOf(g.retiringPrincipal, 'RetiringPrincipal') }
        : {}),
      operations: [...g.operations],
      ...(c?.encryptionContextEquals || c?.encryptionContextSubset
        ? {
            constraints: {
              ...(c.encryptionContextEquals ? { encryptionContextEquals: c.encryptionContextEquals } : {}),
              ...(c.encryptionContextSubset ? { encryptionContextSubset: c.encryptionContextSubset } : {}),
            },
          }
        : {}),
    },
  } as unknown as KmsGrant;
}
