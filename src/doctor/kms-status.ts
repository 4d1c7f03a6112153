/**
 * One KMS v2 Status call over the plugin's unix socket with a deadline, answering what the plugin said (no
 * validation here: the doctor's row decides). A minimal grpc-js client on proto/kmsv2.proto; the apiserver-like
 * client in src/kmsv2/testing/ has no deadline and throws on the first oddity, which would hide the details.
 */
import { type Client, credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadKmsV2Service } from '../api/kmsv2-proto.ts';
import { unixTarget } from '../api/unix-target.ts';

export interface StatusAnswer {
  readonly version: string;
  readonly healthz: string;
  readonly keyId: string;
}

interface StatusClient extends Client {
  Status(
    req: object,
    options: { deadline: number },
    cb: (e: ServiceError | null, r: { version: string; healthz: string; key_id: string }) => void,
  ): void;
}

export async function kmsStatus(socketPath: string, timeoutMs: number): Promise<StatusAnswer> {
  const Ctor = makeGenericClientConstructor(loadKmsV2Service(), 'KeyManagementService');
  // kube-apiserver (1.32+) sends :authority localhost.
  const client = new Ctor(unixTarget(socketPath), credentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
  }) as unknown as StatusClient;
  try {
    return await new Promise<StatusAnswer>((resolve, reject) => {
      client.Status({}, { deadline: Date.now() + timeoutMs }, (e, r) =>
        e ? reject(e) : resolve({ version: r.version, healthz: r.healthz, keyId: r.key_id }),
      );
    });
  } finally {
    client.close();
  }
}
