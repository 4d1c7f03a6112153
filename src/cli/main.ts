#!/usr/bin/env node
/**
 * The kubekms command line. `kubekms serve` runs the service; `kubekms version` prints the version.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage error (unknown flag, bad value).
 */
import { readFileSync } from 'node:fs';
import { RotatingFile } from '../observability/rotating-file.ts';
import { DOCTOR_FLAGS, DOCTOR_HELP, doctorCommand } from './doctor-command.ts';
import { type FlagValues, formatHelp, parseFlags, UsageError } from './flags.ts';
import { KEY_FLAGS, keyCommand } from './key-command.ts';
import { REENCRYPT_FLAGS, REENCRYPT_USAGE, reencryptCommand } from './reencrypt-command.ts';
import { ROOTKEY_DESCRIPTION, ROOTKEY_FLAGS, ROOTKEY_USAGE, rootkeyCommand } from './rootkey-command.ts';
import { serve } from './serve.ts';
import { SERVE_FLAGS } from './serve-flags.ts';
import { renderStaticPod, STATIC_POD_FLAGS, staticPodOptions } from './static-pod-command.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const MAIN_HELP = `kubekms ${VERSION} — in-cluster key management for Kubernetes

Usage:
  kubekms serve [flags]     run the key service (KMS v2 plugin, health and metrics)
  kubekms key list [flags]  list the keys of a local keystore (offline; not while serve runs)
  kubekms key rotate KEY    rotate a key of a local keystore now (offline)
  kubekms static-pod [flags] print the static-pod manifest for a control-plane node
  kubekms reencrypt status  progress of re-encrypting Secrets after a rotation (--watch: until it ends)
  kubekms rootkey init      create a root key: in an HSM (--pkcs11-module …) or a file (--file PATH)
  kubekms doctor [flags]    check socket, root key, keystore, API, clock skew, instances; exit 1 on FAIL
  kubekms version           print the version
  kubekms help [command]    show help

Run 'kubekms serve --help' for the flags of serve. Every flag also reads from an environment variable
(--data-dir ↔ KUBEKMS_DATA_DIR).
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    if (rest[0] === 'serve') process.stdout.write(serveHelp());
    else if (rest[0] === 'doctor') process.stdout.write(DOCTOR_HELP);
    else process.stdout.write(MAIN_HELP);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`kubekms ${VERSION}\n`);
    return 0;
  }
  if (command === 'key') {
    const [sub, ...more] = rest;
    const { values, positionals } = parseFlags(KEY_FLAGS, more, process.env);
    await keyCommand(sub, positionals, values, (s) => process.stdout.write(s));
    return 0;
  }
  if (command === 'static-pod') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(
        formatHelp(
          'Usage: kubekms static-pod [flags]',
          'Prints the static-pod manifest that runs kubekms next to kube-apiserver (see docs/install.md).',
          STATIC_POD_FLAGS,
        ),
      );
      return 0;
    }
    const { values, positionals } = parseFlags(STATIC_POD_FLAGS, rest, process.env);
    if (positionals.length > 0) throw new UsageError('static-pod takes no arguments');
    process.stdout.write(renderStaticPod(staticPodOptions(values)));
    return 0;
  }
  if (command === 'doctor') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(DOCTOR_HELP);
      return 0;
    }
    const { values, positionals } = parseFlags(DOCTOR_FLAGS, rest, process.env);
    if (positionals.length > 0)
      throw new UsageError(`doctor takes no arguments, got ${JSON.stringify(positionals[0])}`);
    return doctorCommand(values, (s) => process.stdout.write(s));
  }
  if (command === 'rootkey') {
    const [sub, ...more] = rest;
    if (sub === '--help' || sub === '-h' || more.includes('--help') || more.includes('-h')) {
      process.stdout.write(formatHelp(ROOTKEY_USAGE, ROOTKEY_DESCRIPTION, ROOTKEY_FLAGS));
      return 0;
    }
    const { values, positionals } = parseFlags(ROOTKEY_FLAGS, more, process.env);
    return rootkeyCommand(sub, positionals, values, process.env, (s) => process.stdout.write(s));
  }
  if (command === 'reencrypt') {
    const [sub, ...more] = rest;
    if (more.includes('--help') || more.includes('-h')) {
      process.stdout.write(
        formatHelp(REENCRYPT_USAGE, 'Reads the Secrets key KmsKey status.reencryption.', REENCRYPT_FLAGS),
      );
      return 0;
    }
    const { values, positionals } = parseFlags(REENCRYPT_FLAGS, more, process.env);
    if (positionals.length > 0)
      throw new UsageError(`reencrypt: unexpected ${JSON.stringify(positionals[0])}`);
    return reencryptCommand(sub, values, {
      write: (s) => process.stdout.write(s),
      isTTY: process.stdout.isTTY === true,
    });
  }
  if (command !== 'serve')
    throw new UsageError(`unknown command ${JSON.stringify(command)} (try 'kubekms help')`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(serveHelp());
    return 0;
  }
  const { values, positionals } = parseFlags(SERVE_FLAGS, rest, process.env);
  if (positionals.length > 0)
    throw new UsageError(`serve takes no arguments, got ${JSON.stringify(positionals[0])}`);
  const running = await serve(values, auditLogFile(values));
  await new Promise<void>((resolve) => {
    // Stay up even when no listener holds the event loop open (e.g. --kms-socket '' --health-listen '').
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const onSignal = (signal: NodeJS.Signals) => {
      clearInterval(keepAlive);
      running.log.info({ signal }, 'shutting down: draining in-flight calls');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await running.stop();
  return 0;
}

/** `--audit-log FILE`: the process log (audit lines included) goes to a size-rotated file instead of stdout. */
function auditLogFile(values: FlagValues): RotatingFile | undefined {
  const path = String(values['audit-log'] ?? '');
  if (!path) return undefined;
  const maxMiB = Number(values['audit-log-max-size']);
  const maxFiles = Number(values['audit-log-max-files']);
  if (!(maxMiB >= 1)) throw new UsageError('--audit-log-max-size: at least 1 (MiB)');
  if (!(maxFiles >= 1)) throw new UsageError('--audit-log-max-files: at least 1');
  return new RotatingFile({ path, maxBytes: maxMiB * 1024 * 1024, maxFiles });
}

function serveHelp(): string {
  return formatHelp(
    'Usage: kubekms serve [flags]',
    'Runs the key engine on its local keystore and serves the Kubernetes KMS v2 plugin API on a unix socket,\nplus /livez, /readyz and /metrics. Needs no Kubernetes API to start.',
    SERVE_FLAGS,
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`kubekms: ${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`kubekms: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
