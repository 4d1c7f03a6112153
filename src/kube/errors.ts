/**
 * Errors from the Kubernetes API, normalized: the client library throws ApiException (generated clients) or an
 * Error with statusCode (watch). Callers branch on `code` and on the Status `reason`, never on the message.
 */

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
  }
}

interface StatusBody {
  readonly reason?: string;
  readonly message?: string;
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      const v: unknown = JSON.parse(body);
      return typeof v === 'object' && v !== null ? (v as StatusBody) : {};
    } catch {
      return {};
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusBody) : {};
}

/** A KubeApiError for any error that carries an HTTP status code; other errors (network, TLS) are returned as is. */
export function normalizeKubeError(e: unknown): unknown {
  if (e instanceof KubeApiError || typeof e !== 'object' || e === null) return e;
  const o = e as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
  const code =
    typeof o.code === 'number' ? o.code : typeof o.statusCode === 'number' ? o.statusCode : undefined;
  if (code === undefined) return e;
  const s = parseStatus(o.body);
  return new KubeApiError(code, s.reason ?? '', s.message ?? `HTTP ${code}`);
}

export const isKubeCode = (e: unknown, code: number): boolean => e instanceof KubeApiError && e.code === code;
export const isNotFound = (e: unknown): boolean => isKubeCode(e, 404);
export const isConflict = (e: unknown): boolean => isKubeCode(e, 409);
export const isGone = (e: unknown): boolean => isKubeCode(e, 410);

/** A short description for logs: code and reason, never a whole response body. */
export function describeError(e: unknown): string {
  if (e instanceof KubeApiError) return `${e.code} ${e.reason || 'Error'}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
