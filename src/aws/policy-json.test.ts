import { describe, expect, it } from 'vitest';
import { policyFromJson, policyToJson } from './policy-json.ts';

const doc = (statement: unknown, extra: object = {}) =>
  JSON.stringify({ Version: '2012-10-17', Statement: statement, ...extra });

describe('IAM-style key policy documents', () => {
  it('maps the supported subset one to one and round-trips', () => {
    const p = policyFromJson(
      doc(
        [
          {
            Sid: 'A',
            Effect: 'Allow',
            Principal: { AWS: 'system:serviceaccount:ns:a' },
            Action: 'kms:Encrypt',
            Resource: '*',
          },
          { Effect: 'Deny', Principal: '*', Action: ['kms:Generate*', 'kms:Decrypt'], Resource: ['*'] },
        ],
        { Id: 'key-default-1' },
      ),
    );
    expect(p.statements).toEqual([
      { sid: 'A', effect: 'Allow', principals: ['system:serviceaccount:ns:a'], actions: ['kms:Encrypt'] },
      { effect: 'Deny', principals: ['*'], actions: ['kms:Generate*', 'kms:Decrypt'] },
    ]);
    expect(policyFromJson(policyToJson(p))).toEqual(p);
    expect(
      policyFromJson(
        JSON.stringify({
          Version: '2012-10-17',
          Statement: { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
        }),
      ).statements,
    ).toHaveLength(1);
  });

  it('refuses everything outside the subset with MalformedPolicyDocumentException naming the element', () => {
    const ok = { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' };
    const cases: [string, RegExp][] = [
      ['nope', /not valid JSON/],
      ['[]', /JSON object/],
      [JSON.stringify({ Statement: [ok] }), /Version/],
      [doc([ok], { Other: 1 }), /Other is not a policy element/],
      [doc([]), /at least one statement/],
      [doc([{ ...ok, Condition: {} }]), /Statement\[0\]\.Condition is not supported/],
      [doc([{ ...ok, NotAction: 'kms:Encrypt' }]), /NotAction/],
      [
        doc([{ Effect: 'Allow', NotPrincipal: { AWS: 'x' }, Action: 'kms:*', Resource: '*' }]),
        /NotPrincipal/,
      ],
      [doc([{ ...ok, NotResource: '*' }]), /NotResource/],
      [doc([{ ...ok, Resource: 'arn:aws:kms:eu-west-1:111122223333:key/x' }]), /Resource must be "\*"/],
      [doc([{ ...ok, Principal: { Service: 'x' } }]), /Service principals are not supported/],
      [doc([{ ...ok, Principal: { AWS: [] } }]), /Principal\.AWS/],
      [doc([{ ...ok, Effect: 'Maybe' }]), /Effect/],
      [doc([{ ...ok, Action: 'iam:PassRole' }]), /only kms: actions/],
      [doc([{ ...ok, Action: 'kms:Fly' }]), /unknown action kms:Fly/],
      [doc([{ ...ok, Sid: 1 }]), /Sid/],
    ];
    for (const [text, re] of cases) {
      let err: unknown;
      try {
        policyFromJson(text);
      } catch (e) {
        err = e;
      }
      expect([text, (err as { code?: string })?.code]).toEqual([text, 'MalformedPolicyDocumentException']);
      expect((err as Error).message).toMatch(re);
    }
  });
});
