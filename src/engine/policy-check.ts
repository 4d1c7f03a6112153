/** Validation of a KeyPolicy value (the engine's policy model, not the IAM JSON the AWS adapter speaks). */
import { KmsError } from './errors.ts';
import { KEY_ACTIONS, type KeyPolicy, type PolicyStatement } from './policy.ts';

const malformed = (msg: string): KmsError =>
  new KmsError('MalformedPolicyDocumentException', `Policy: ${msg}`, 'Policy');

function actionValid(a: string): boolean {
  if (a === 'kms:*') return true;
  if (a.endsWith('*')) return a.startsWith('kms:') && KEY_ACTIONS.some((k) => k.startsWith(a.slice(0, -1)));
  return (KEY_ACTIONS as readonly string[]).includes(a);
}

export function checkPolicy(p: KeyPolicy): KeyPolicy {
  if (!p || !Array.isArray(p.statements)) throw malformed('statements must be a list');
  if (p.statements.length > 100) throw malformed('at most 100 statements');
  const statements: PolicyStatement[] = p.statements.map((s, i) => {
    if (s.effect !== 'Allow' && s.effect !== 'Deny')
      throw malformed(`statements[${i}].effect must be Allow or Deny`);
    if (!Array.isArray(s.principals) || s.principals.length === 0) {
      throw malformed(`statements[${i}].principals must be a non-empty list`);
    }
    for (const pr of s.principals) {
      if (typeof pr !== 'string' || pr.length === 0 || pr.length > 256) {
        throw malformed(`statements[${i}].principals: each principal is a string of 1-256 characters`);
      }
    }
    if (!Array.isArray(s.actions) || s.actions.length === 0)
      throw malformed(`statements[${i}].actions must be a non-empty list`);
    for (const a of s.actions)
      if (typeof a !== 'string' || !actionValid(a))
        throw malformed(`statements[${i}].actions: unknown action ${String(a)}`);
    return {
      ...(s.sid !== undefined ? { sid: String(s.sid) } : {}),
      effect: s.effect,
      principals: [...s.principals],
      actions: [...s.actions],
    };
  });
  return { statements };
}
