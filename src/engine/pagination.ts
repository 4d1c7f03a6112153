/** Marker-based pagination over a list sorted by a string id: the marker is the last id returned. */
import { KmsError } from './errors.ts';

export interface Page<T> {
  readonly items: T[];
  readonly nextMarker?: string;
  readonly truncated: boolean;
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
    if (marker.length === 0 || marker.length > 1024) {
      throw new KmsError('InvalidMarkerException', 'Marker: not a marker this service issued', 'Marker');
    }
    start = sorted.findIndex((t) => idOf(t) > marker);
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + limit);
  const truncated = start + limit < sorted.length;
  return truncated ? { items, truncated, nextMarker: idOf(items[items.length - 1]!) } : { items, truncated };
}
