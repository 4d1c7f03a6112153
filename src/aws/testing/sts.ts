/**
 * Test helpers for web identity: an unsigned JWT with chosen claims (a fake TokenReview decides whether it is
 * valid), and a raw AssumeRoleWithWebIdentity call that returns the credentials or the STS error.
 */
export function fakeJwt(claims: {
  aud?: string | string[];
  exp?: number;
  sub?: string;
  iss?: string;
}): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test' })}.${part(claims)}.${Buffer.from('signature').toString('base64url')}`;
}

export interface StsAnswer {
  readonly status: number;
  readonly body: string;
  /** The error code, or undefined on success. */
  readonly code?: string;
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken: string;
    readonly expiration: string;
  };
}

const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

export async function assumeRole(endpoint: string, params: Record<string, string>): Promise<StsAnswer> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', ...params }),
  });
  const body = await res.text();
  const code = tag(body, 'Code');
  if (code !== undefined) return { status: res.status, body, code };
  return {
    status: res.status,
    body,
    credentials: {
      accessKeyId: tag(body, 'AccessKeyId') ?? '',
      secretAccessKey: tag(body, 'SecretAccessKey') ?? '',
      sessionToken: tag(body, 'SessionToken') ?? '',
      expiration: tag(body, 'Expiration') ?? '',
    },
  };
}
