/**
 * Marker-based pagination over a list sorted by a string id. A marker is opaque to clients: the last id returned,
 * as UTF-8 in base64url behind a version prefix, so that a marker this service did not issue is
 * InvalidMarkerException (as AWS answers) rather than silently read as a position in the list.
 */
import { toBase64Url } from './bytes.ts';
import { KmsError } from './errors.ts';

export interface Page<T> {
  readonly items: T[];
  readonly nextMarker?: string;
  readonly truncated: boolean;
}

const PREFIX = 'kk1.';
const B64URL = /^[A-Za-z0-9_-]*$/;

const invalidMarker = () =>
  new KmsError('InvalidMarkerException', 'Marker: not a marker this service issued', 'Marker');

export const encodeMarker = (id: string): string => PREFIX + toBase64Url(new TextEncoder().encode(id));

/** The id a marker of encodeMarker carries; anything else is InvalidMarkerException. */
export function decodeMarker(marker: string): string {
  const body = marker.slice(PREFIX.length);
  if (!marker.startsWith(PREFIX) || !body || !B64URL.test(body) || body.length % 4 === 1)
    throw invalidMarker();
  const b64 = body.replaceAll('-', '+').replaceAll('_', '/');
  let id: string;
  try {
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    id = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidMarker();
  }
  if (encodeMarker(id) !== marker) throw invalidMarker();
  return id;
}

export function paginate<T>(
  all: readonly T[],
  idOf: (t: T) => string,
  limit: number,
  marker: string | undefined,
): Page<T> {
  const sorted = [...all].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  let start = 0;
  if (marker !== undefined) {
    const last = decodeMarker(marker);
    start = sorted.findIndex((t) => idOf(t) > last);
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + limit);
  const truncated = start + limit < sorted.length;
  return truncated
    ? { items, truncated, nextMarker: encodeMarker(idOf(items[items.length - 1]!)) }
    : { items, truncated };
}
