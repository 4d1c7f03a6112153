/**
 * The KMS v2 gRPC service definition, loaded from proto/kmsv2.proto (shipped with the package): served by kmsv2/,
 * called by the doctor.
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/kmsv2.proto', import.meta.url));

export function loadKmsV2Service(): ServiceDefinition {
  const def = loadSync(PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(def) as unknown as {
    v2: { KeyManagementService: { service: ServiceDefinition } };
  };
  return pkg.v2.KeyManagementService.service;
}
