import { describe, expect, it } from 'vitest';
import { KubeApiError } from './errors.ts';
import type { KubeRequest } from './raw-http.ts';
import { tokenReviewOver } from './token-review.ts';

function fake(status: number, body: unknown): { request: KubeRequest; sent: unknown[] } {
  const sent: unknown[] = [];
  const request: KubeRequest = async (method, path, o) => {
    sent.push({ method, path, body: o.body });
    return { status, headers: {}, body: JSON.stringify(body), sentAt: 0, receivedAt: 0 };
  };
  return { request, sent };
}

describe('TokenReview port', () => {
  it('posts the token with the audiences and reads the status', async () => {
    const f = fake(201, {
      status: {
        authenticated: true,
        user: { username: 'system:serviceaccount:a:b', uid: 'u1', groups: ['system:serviceaccounts'] },
        audiences: ['kubekms'],
      },
    });
    const r = await tokenReviewOver(f.request, 1000)('tok', ['kubekms']);
    expect(r).toEqual({
      authenticated: true,
      username: 'system:serviceaccount:a:b',
      uid: 'u1',
      groups: ['system:serviceaccounts'],
      audiences: ['kubekms'],
      error: '',
    });
    expect(f.sent).toEqual([
      {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token: 'tok', audiences: ['kubekms'] },
        },
      },
    ]);
  });

  it('a refused token is not authenticated, with the reason', async () => {
    const f = fake(201, { status: { authenticated: false, error: 'token has expired' } });
    expect(await tokenReviewOver(f.request, 1000)('tok', ['kubekms'])).toMatchObject({
      authenticated: false,
      error: 'token has expired',
      audiences: [],
    });
  });

  it('an error status is a KubeApiError naming the call, never the token', async () => {
    const f = fake(403, { reason: 'Forbidden', message: 'cannot create resource "tokenreviews"' });
    const e = await tokenReviewOver(f.request, 1000)('secret-token', ['kubekms']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KubeApiError);
    expect((e as KubeApiError).code).toBe(403);
    expect((e as Error).message).toMatch(/^create tokenreviews: cannot create/);
    expect((e as Error).message).not.toContain('secret-token');
  });
});
