#!/usr/bin/env node
/**
 * The kubekms command line: routes `kubekms COMMAND [SUBCOMMAND] [flags]` to the command table (commands.ts),
 * answers `--help`/`-h` at every level and `kubekms help COMMAND [SUBCOMMAND]` with the same text, and
 * `kubekms version`. Exit codes: 0 ok, 1 runtime failure, 2 usage error (unknown command or flag, bad value).
 */
import { readFileSync } from 'node:fs';
import { type Command, commandHelp, findCommand, type Io, mainHelp } from './commands.ts';
import { UsageError } from './flags.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const isHelp = (a: string): boolean => a === '--help' || a === '-h';

/** `--help` or `-h` before any `--`. */
function asksHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some(isHelp);
}

/** The command the words select, and the arguments after its name. */
function route(argv: readonly string[]): { command: Command; rest: readonly string[] } {
  let command = findCommand([argv[0] ?? '']);
  let i = 1;
  while (command.subcommands) {
    const word = argv[i];
    if (word === undefined || word.startsWith('-')) {
      if ((word !== undefined && isHelp(word)) || command.load) return { command, rest: argv.slice(i) };
      throw new UsageError(`${command.name}: missing subcommand (try 'kubekms help ${command.name}')`);
    }
    command = findCommand([...command.name.split(' '), word]);
    i++;
  }
  return { command, rest: argv.slice(i) };
}

async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || isHelp(first)) {
    io.out(mainHelp(VERSION));
    return 0;
  }
  if (first === 'help') {
    io.out(rest.length === 0 ? mainHelp(VERSION) : await commandHelp(findCommand(rest)));
    return 0;
  }
  if (first === 'version' || first === '--version') {
    io.out(`kubekms ${VERSION}\n`);
    return 0;
  }
  const { command, rest: args } = route(argv);
  if (asksHelp(args) || !command.load) {
    io.out(await commandHelp(command));
    return 0;
  }
  return (await command.load()).run(args, io);
}

const io: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
};

main(process.argv.slice(2), io).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`kubekms: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
