/**
 * A KMS v2 client that behaves like kube-apiserver (kmsv2/grpc_service.go, envelope.go): it sets the same
 * :authority (`localhost` since 1.32, the percent-encoded socket path before), sends a fresh UUID uid per call,
 * and applies the apiserver's validations to every response, throwing where the apiserver would refuse it.
 */

import { randomUUID } from 'node:crypto';
import { type Client, credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadKmsV2Service } from '../../api/kmsv2-proto.ts';
import { unixTarget } from '../../api/unix-target.ts';
import { isFullyQualifiedDomainName } from '../annotations.ts';

export type AuthorityStyle = 'localhost' | 'socket-path';

interface Raw extends Client {
  Status(
    req: object,
    cb: (e: ServiceError | null, r: { version: string; healthz: string; key_id: string }) => void,
  ): void;
  Encrypt(
    req: object,
    cb: (
      e: ServiceError | null,
      r: { ciphertext: Buffer; key_id: string; annotations: Record<string, Buffer> },
    ) => void,
  ): void;
  Decrypt(req: object, cb: (e: ServiceError | null, r: { plaintext: Buffer }) => void): void;
}

export class ApiserverLikeClient {
  readonly #client: Raw;
  #firstVersion: string | undefined;

  constructor(socketPath: string, authority: AuthorityStyle = 'localhost') {
    const Ctor = makeGenericClientConstructor(loadKmsV2Service(), 'KeyManagementService');
    const auth = authority === 'localhost' ? 'localhost' : encodeURIComponent(socketPath);
    this.#client = new Ctor(unixTarget(socketPath), credentials.createInsecure(), {
      'grpc.default_authority': auth,
    }) as unknown as Raw;
  }

  #call<T>(method: 'Status' | 'Encrypt' | 'Decrypt', req: object): Promise<T> {
    return new Promise((resolve, reject) => {
      (this.#client[method] as (r: object, cb: (e: ServiceError | null, v: T) => void) => void).call(
        this.#client,
        req,
        (e, v) => (e ? reject(e) : resolve(v)),
      );
    });
  }

  /** Status with the apiserver's checks (isKMSv2ProviderHealthyAndMaybeRotateDEK). */
  async status(): Promise<{ version: string; healthz: string; keyId: string }> {
    const r = await this.#call<{ version: string; healthz: string; key_id: string }>('Status', {});
    if (r.version !== 'v2' && r.version !== 'v2beta1')
      throw new Error(`apiserver: unsupported version ${r.version}`);
    this.#firstVersion ??= r.version;
    if (r.version !== this.#firstVersion) throw new Error('apiserver: version changed while running');
    if (r.key_id.length === 0) throw new Error('apiserver: keyID is empty');
    if (Buffer.byteLength(r.key_id) > 1024) throw new Error('apiserver: keyID too long');
    return { version: r.version, healthz: r.healthz, keyId: r.key_id };
  }

  /** Encrypt of a seed, validated as ValidateEncryptedObject does; `statusKeyId` must match (rotateDEKOnKeyIDChange). */
  async encrypt(seed: Uint8Array, statusKeyId?: string) {
    const r = await this.#call<{ ciphertext: Buffer; key_id: string; annotations: Record<string, Buffer> }>(
      'Encrypt',
      {
        plaintext: Buffer.from(seed),
        uid: randomUUID(),
      },
    );
    if (r.ciphertext.length === 0 || r.ciphertext.length > 1024)
      throw new Error(`apiserver: encrypted DEK source size ${r.ciphertext.length}`);
    if (r.key_id.length === 0 || Buffer.byteLength(r.key_id) > 1024)
      throw new Error('apiserver: invalid keyID');
    let total = 0;
    for (const [k, v] of Object.entries(r.annotations)) {
      if (!isFullyQualifiedDomainName(k)) throw new Error(`apiserver: annotation key ${k} is not a FQDN`);
      total += Buffer.byteLength(k) + v.length;
    }
    if (total > 32 * 1024) throw new Error('apiserver: annotations too large');
    if (statusKeyId !== undefined && r.key_id !== statusKeyId)
      throw new Error('apiserver: Encrypt key_id differs from Status key_id');
    return { ciphertext: r.ciphertext, keyId: r.key_id, annotations: r.annotations };
  }

  async decrypt(
    ciphertext: Uint8Array,
    keyId: string,
    annotations: Record<string, Uint8Array> = {},
    uid: string = randomUUID(),
  ) {
    const r = await this.#call<{ plaintext: Buffer }>('Decrypt', {
      ciphertext: Buffer.from(ciphertext),
      key_id: keyId,
      annotations: Object.fromEntries(Object.entries(annotations).map(([k, v]) => [k, Buffer.from(v)])),
      uid,
    });
    return r.plaintext;
  }

  close(): void {
    this.#client.close();
  }
}
