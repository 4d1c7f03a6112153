/**
 * The TokenReview port (authentication.k8s.io/v1): the API server tells whether a bearer token is valid for the
 * given audiences and whom it authenticates. Used by the AWS API's AssumeRoleWithWebIdentity. Implemented on the
 * raw requester (raw-http.ts): one POST per review, a timeout, and no retry (the caller answers and the client
 * retries). The token is sent in the request body only and never appears in an error.
 */
import { KubeApiError } from './errors.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { type KubeRequest, kubeRequester } from './raw-http.ts';

export interface TokenReviewResult {
  readonly authenticated: boolean;
  readonly username: string;
  readonly uid: string;
  readonly groups: readonly string[];
  /** The audiences the token is valid for, of those asked (empty when the API server does not say). */
  readonly audiences: readonly string[];
  /** Why the token was refused, as the API server says it (never contains the token). */
  readonly error: string;
}

/** Reviews a token; throws KubeApiError when the API answers with an error status, Error when it does not answer. */
export type TokenReviewer = (token: string, audiences: readonly string[]) => Promise<TokenReviewResult>;

const PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

/** A reviewer on a kubeconfig (empty: in-cluster, $KUBECONFIG, ~/.kube/config), loaded at the first review. */
export function tokenReviewerFromKubeconfig(path: string, timeoutMs: number): TokenReviewer {
  let request: KubeRequest | undefined;
  return async (token, audiences) => {
    request ??= kubeRequester(loadKubeConfig(path));
    return tokenReviewOver(request, timeoutMs)(token, audiences);
  };
}

export function tokenReviewOver(request: KubeRequest, timeoutMs: number): TokenReviewer {
  return async (token, audiences) => {
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [...audiences] },
    };
    const res = await request('POST', PATH, { body, timeoutMs });
    if (res.status !== 200 && res.status !== 201) {
      const status = parseJson(res.body) as { reason?: unknown; message?: unknown } | undefined;
      const reason = typeof status?.reason === 'string' ? status.reason : '';
      const message = typeof status?.message === 'string' ? status.message : `HTTP ${res.status}`;
      throw new KubeApiError(res.status, reason, `create tokenreviews: ${message.slice(0, 300)}`);
    }
    return resultOf(parseJson(res.body));
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

function resultOf(doc: unknown): TokenReviewResult {
  const status = (doc as { status?: Record<string, unknown> } | undefined)?.status ?? {};
  const user = (status.user ?? {}) as Record<string, unknown>;
  return {
    authenticated: status.authenticated === true,
    username: typeof user.username === 'string' ? user.username : '',
    uid: typeof user.uid === 'string' ? user.uid : '',
    groups: strings(user.groups),
    audiences: strings(status.audiences),
    error: typeof status.error === 'string' ? status.error.slice(0, 300) : '',
  };
}
