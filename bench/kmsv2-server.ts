/**
 * The server side of bench/kmsv2.ts, run as its own process so that client and server do not share an event
 * loop: `node bench/kmsv2-server.ts kubekms|noop SOCKET DATADIR`. `kubekms` is the real `kubekms serve` plugin;
 * `noop` is a grpc-js server on the same proto answering with fixed responses: the baseline.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadKmsV2Service } from '../src/api/kmsv2-proto.ts';
import { parseFlags } from '../src/cli/flags.ts';
import { serve } from '../src/cli/serve.ts';
import { serveConfig } from '../src/cli/serve-config.ts';
import { SERVE_FLAGS } from '../src/cli/serve-flags.ts';

const [mode, socket, dataDir] = process.argv.slice(2);
if (!socket || !dataDir || (mode !== 'kubekms' && mode !== 'noop')) {
  process.stderr.write('usage: node bench/kmsv2-server.ts kubekms|noop SOCKET DATADIR\n');
  process.exit(2);
}

if (mode === 'kubekms') {
  const { values } = parseFlags(
    SERVE_FLAGS,
    ['--dev', '--data-dir', dataDir, '--kms-socket', socket, '--health-listen', '', '--log-level', 'warn'],
    {},
  );
  await serve(serveConfig(values, {}));
} else {
  const server = new Server();
  const ciphertext = Buffer.alloc(81, 1);
  const plaintext = Buffer.alloc(32, 2);
  server.addService(loadKmsV2Service(), {
    Status: (_c: unknown, cb: (e: null, r: object) => void) =>
      cb(null, { version: 'v2', healthz: 'ok', key_id: 'noop:v1' }),
    Encrypt: (_c: unknown, cb: (e: null, r: object) => void) =>
      cb(null, { ciphertext, key_id: 'noop:v1', annotations: {} }),
    Decrypt: (_c: unknown, cb: (e: null, r: object) => void) => cb(null, { plaintext }),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) =>
      e ? reject(e) : resolve(),
    ),
  );
}
process.on('SIGTERM', () => process.exit(0));
process.stdout.write('ready\n');
setInterval(() => undefined, 1 << 30);
