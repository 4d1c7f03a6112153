/**
 * The server side of bench/kmsv2.ts, run as its own process so that client and server do not share an event
 * loop: `node bench/kmsv2-server.ts kubekms|noop SOCKET DATADIR`. `kubekms` is the real `kubekms serve` plugin;
 * `noop` is a grpc-js server with the plugin's own service definition and codec (src/kmsv2/service.ts, the
 * hand-written wire.ts) answering with fixed responses: the baseline, so the ratio is kubekms's own work per call.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { parseFlags } from '../src/cli/flags.ts';
import { serve } from '../src/cli/serve.ts';
import { serveConfig } from '../src/cli/serve-config.ts';
import { SERVE_FLAGS } from '../src/cli/serve-flags.ts';
import { KMS_V2_SERVICE } from '../src/kmsv2/service.ts';

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
  server.addService(KMS_V2_SERVICE, {
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
