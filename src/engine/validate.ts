/**
 * Field validators for engine entry points. Every failure is a ValidationException whose message starts with
 * the field name (invariant 8).
 */
import { KmsError, validation } from './errors.ts';

export function requireBytes(value: unknown, field: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw validation(field, 'must be bytes');
  if (value.length < min) throw validation(field, `must be at least ${min} bytes`);
  if (value.length > max) throw validation(field, `must be at most ${max} bytes (got ${value.length})`);
  return value;
}

export function requireEnum<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw validation(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function optionalEnum<T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
): T | undefined {
  return value === undefined || value === null ? undefined : requireEnum(value, field, allowed);
}

export function requireInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw validation(field, 'must be an integer');
  if (value < min || value > max) throw validation(field, `must be between ${min} and ${max}`);
  return value;
}

export function optionalInt(value: unknown, field: string, min: number, max: number): number | undefined {
  return value === undefined || value === null ? undefined : requireInt(value, field, min, max);
}

export function requireString(
  value: unknown,
  field: string,
  min: number,
  max: number,
  pattern?: RegExp,
): string {
  if (typeof value !== 'string') throw validation(field, 'must be a string');
  if (value.length < min) throw validation(field, `must be at least ${min} characters`);
  if (value.length > max) throw validation(field, `must be at most ${max} characters`);
  if (pattern && !pattern.test(value)) throw validation(field, `must match ${pattern.source}`);
  return value;
}

export function optionalString(
  value: unknown,
  field: string,
  min: number,
  max: number,
  pattern?: RegExp,
): string | undefined {
  return value === undefined || value === null ? undefined : requireString(value, field, min, max, pattern);
}

export function checkGrantTokens(value: unknown): readonly string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw validation('GrantTokens', 'must be a list of strings');
  if (value.length > 10) throw validation('GrantTokens', 'must have at most 10 items');
  for (const [i, t] of value.entries()) {
    if (typeof t !== 'string' || t.length === 0 || t.length > 8192) {
      throw new KmsError(
        'InvalidGrantTokenException',
        `GrantTokens[${i}]: not a valid grant token`,
        'GrantTokens',
      );
    }
  }
  return value as string[];
}
