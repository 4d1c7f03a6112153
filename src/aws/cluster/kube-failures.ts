/**
 * Kubernetes API failures in AWS terms, mapped once for cluster mode: 422 (schema or CEL refused the object) is
 * the caller's ValidationException, 409 AlreadyExists is AlreadyExistsException, any other API answer is ours
 * (KMSInternalException naming the call), and an unreachable API is the retryable DependencyTimeoutException.
 */
import { KmsError } from '../../engine/errors.ts';
import { KubeApiError } from '../../kube/errors.ts';
import type { ClusterApi } from './kube.ts';

export async function inAwsTerms<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof KubeApiError) {
      if (e.code === 422) throw new KmsError('ValidationException', `${what}: ${e.message}`);
      if (e.code === 409 && e.reason === 'AlreadyExists')
        throw new KmsError('AlreadyExistsException', `${what}: ${e.message}`);
      throw new KmsError(
        'KMSInternalException',
        `${what}: the Kubernetes API answered ${e.code} ${e.reason}`,
      );
    }
    if (e instanceof KmsError) throw e;
    const detail = e instanceof Error ? e.message : String(e);
    throw new KmsError(
      'DependencyTimeoutException',
      `${what}: the Kubernetes API is not reachable (${detail})`,
    );
  }
}

/** `api` with every call, including the polls while waiting, failing in AWS terms. */
export function awsTermsApi(api: ClusterApi): ClusterApi {
  return {
    get: (t, ns, n) => inAwsTerms(`get ${t.kind} ${ns}/${n}`, () => api.get(t, ns, n)),
    list: (t) => inAwsTerms(`list ${t.kind}`, () => api.list(t)),
    create: (t, ns, b) => inAwsTerms(`create ${t.kind} in ${ns}`, () => api.create(t, ns, b)),
    patch: (t, ns, n, b) => inAwsTerms(`patch ${t.kind} ${ns}/${n}`, () => api.patch(t, ns, n, b)),
    delete: (t, ns, n) => inAwsTerms(`delete ${t.kind} ${ns}/${n}`, () => api.delete(t, ns, n)),
  };
}
