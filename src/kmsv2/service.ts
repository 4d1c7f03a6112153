/**
 * The KMS v2 gRPC service (package v2, service KeyManagementService) for grpc-js, with the hand-written codec of
 * wire.ts: what the plugin serves and what test clients call, without loading protobufjs. proto/kmsv2.proto stays
 * the contract (the differential test reads it).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import * as wire from './wire.ts';

const NOTHING = Buffer.alloc(0);

function unary<Req, Res>(
  name: string,
  request: { encode: (m: Req) => Buffer; decode: (b: Buffer) => Req },
  response: { encode: (m: Res) => Buffer; decode: (b: Buffer) => Res },
) {
  return {
    path: `/v2.KeyManagementService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: request.encode,
    requestDeserialize: request.decode,
    responseSerialize: response.encode,
    responseDeserialize: response.decode,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  } as const;
}

export const KMS_V2_SERVICE = {
  Decrypt: unary(
    'Decrypt',
    { encode: wire.encodeDecryptRequest, decode: wire.decodeDecryptRequest },
    { encode: wire.encodeDecryptResponse, decode: wire.decodeDecryptResponse },
  ),
  Encrypt: unary(
    'Encrypt',
    { encode: wire.encodeEncryptRequest, decode: wire.decodeEncryptRequest },
    { encode: wire.encodeEncryptResponse, decode: wire.decodeEncryptResponse },
  ),
  Status: unary(
    'Status',
    { encode: () => NOTHING, decode: wire.decodeStatusRequest },
    { encode: wire.encodeStatusResponse, decode: wire.decodeStatusResponse },
  ),
} satisfies ServiceDefinition;
