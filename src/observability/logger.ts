/**
 * The process logger: pino, JSON lines. Plaintext, key material and credentials cannot be logged: the logger
 * redacts them by path, at the top level and one level down, whatever the caller passes.
 */
import { type LevelWithSilent, type Logger, pino } from 'pino';

const SECRET_FIELDS = [
  'plaintext',
  'Plaintext',
  'seed',
  'material',
  'keyMaterial',
  'privateKey',
  'PrivateKeyPlaintext',
  'sharedSecret',
  'SharedSecret',
  'secretAccessKey',
  'authorization',
  'Authorization',
  'grantToken',
  'GrantToken',
];

export const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'kubekms' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
