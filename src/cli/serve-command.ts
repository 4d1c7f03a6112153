/**
 * `kubekms serve` as a command: parses the flags into a ServeConfig, serves, and on SIGTERM or SIGINT stops
 * (in-flight calls drain for up to --shutdown-grace) and exits 0.
 */
import { type CommandModule, noPositionals, parseCommandFlags } from './commands.ts';
import { serve } from './serve.ts';
import { serveConfig } from './serve-config.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

export const serveCommand: CommandModule = {
  flags: SERVE_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(SERVE_FLAGS, argv, io);
    noPositionals('serve', positionals);
    const running = await serve(serveConfig(values, io.env));
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
  },
};
