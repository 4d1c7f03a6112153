/**
 * Key policies as IAM-style JSON documents (GetKeyPolicy, PutKeyPolicy, CreateKey Policy), translated one to
 * one onto the engine's KeyPolicy model. The supported subset:
 *
 *   {"Version":"2012-10-17", "Id"?: "…",
 *    "Statement":[{"Sid"?:"…", "Effect":"Allow"|"Deny",
 *                  "Principal":"*" | {"AWS":"name" | ["name", …]},
 *                  "Action":"kms:X" | ["kms:X", "kms:Generate*", "kms:*", …],
 *                  "Resource":"*"}]}
 *
 * Principals are kubekms principal names (`system:serviceaccount:NS:NAME`, a user, `group:NAME`, or `*`).
 * Anything else (Condition, NotAction, NotPrincipal, NotResource, other principal kinds, a Resource other than
 * "*") is refused with MalformedPolicyDocumentException rather than silently ignored. `Id` is accepted and not
 * kept; GetKeyPolicy always answers the canonical form below.
 */
import { KmsError } from '../engine/errors.ts';
import type { KeyPolicy, PolicyStatement } from '../engine/policy.ts';
import { checkPolicy } from '../engine/policy-check.ts';

const VERSIONS = ['2012-10-17', '2008-10-17'];
const TOP_KEYS = ['Version', 'Id', 'Statement'];
const STATEMENT_KEYS = ['Sid', 'Effect', 'Principal', 'Action', 'Resource'];
const UNSUPPORTED = ['Condition', 'NotAction', 'NotPrincipal', 'NotResource'];

const malformed = (msg: string): KmsError => new KmsError('MalformedPolicyDocumentException', msg, 'Policy');

const strings = (v: unknown, where: string): string[] => {
  const list = typeof v === 'string' ? [v] : v;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((s) => typeof s !== 'string' || s.length === 0)
  ) {
    throw malformed(`${where} must be a non-empty string or list of strings`);
  }
  return list as string[];
};

function statement(s: unknown, i: number): PolicyStatement {
  const at = `Statement[${i}]`;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw malformed(`${at} must be an object`);
  const st = s as Record<string, unknown>;
  for (const k of Object.keys(st)) {
    if (UNSUPPORTED.includes(k)) throw malformed(`${at}.${k} is not supported by kubekms key policies`);
    if (!STATEMENT_KEYS.includes(k)) throw malformed(`${at}.${k} is not a policy statement element`);
  }
  if (st.Sid !== undefined && typeof st.Sid !== 'string') throw malformed(`${at}.Sid must be a string`);
  if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw malformed(`${at}.Effect must be Allow or Deny`);
  let principals: string[];
  if (st.Principal === '*') principals = ['*'];
  else if (typeof st.Principal === 'object' && st.Principal !== null && !Array.isArray(st.Principal)) {
    const kinds = Object.keys(st.Principal);
    if (kinds.length !== 1 || kinds[0] !== 'AWS') {
      throw malformed(
        `${at}.Principal must be "*" or {"AWS": …}; ${kinds.join(', ')} principals are not supported`,
      );
    }
    principals = strings((st.Principal as { AWS: unknown }).AWS, `${at}.Principal.AWS`);
  } else throw malformed(`${at}.Principal must be "*" or {"AWS": "name" | ["name", …]}`);
  const actions = strings(st.Action, `${at}.Action`);
  for (const a of actions) {
    if (!a.startsWith('kms:'))
      throw malformed(`${at}.Action ${JSON.stringify(a)}: only kms: actions are supported`);
  }
  const resources = strings(st.Resource, `${at}.Resource`);
  if (resources.some((r) => r !== '*'))
    throw malformed(`${at}.Resource must be "*" (the key the policy is on)`);
  return {
    ...(st.Sid !== undefined ? { sid: st.Sid as string } : {}),
    effect: st.Effect,
    principals,
    actions,
  };
}

/** Parses a policy document. Throws MalformedPolicyDocumentException naming the element. */
export function policyFromJson(text: string): KeyPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('the policy is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw malformed('the policy must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!TOP_KEYS.includes(k)) throw malformed(`${k} is not a policy element`);
  if (typeof d.Version !== 'string' || !VERSIONS.includes(d.Version)) {
    throw malformed(`Version must be one of ${VERSIONS.join(', ')}`);
  }
  if (d.Id !== undefined && typeof d.Id !== 'string') throw malformed('Id must be a string');
  const list = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? [] : [d.Statement];
  if (list.length === 0) throw malformed('Statement must hold at least one statement');
  try {
    return checkPolicy({ statements: list.map(statement) });
  } catch (e) {
    if (e instanceof KmsError)
      throw malformed(e.message.replace(/^Policy: /, '').replace(/statements\[/g, 'Statement['));
    throw e;
  }
}

/** The canonical JSON document of a policy (stable: a Put of this text round-trips to the same policy). */
export function policyToJson(p: KeyPolicy): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'kubekms-key-policy',
      Statement: p.statements.map((s) => ({
        ...(s.sid !== undefined ? { Sid: s.sid } : {}),
        Effect: s.effect,
        Principal: { AWS: [...s.principals] },
        Action: [...s.actions],
        Resource: '*',
      })),
    },
    null,
    2,
  );
}
