// Tests of the gRPC mapping: every engine code has the status docs/errors.md states, and other errors say nothing.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { docTable } from '../../test/doc-tables.ts';
import { ERROR_CODES, KmsError } from '../engine/errors.ts';
import { GRPC_STATUS_OF, grpcCodeName, toGrpcError } from './grpc-errors.ts';

describe('toGrpcError', () => {
  it('maps every engine code to the gRPC status docs/errors.md documents', () => {
    const rows = docTable('errors.md', 'Codes');
    for (const code of ERROR_CODES) {
      expect(rows.get(code)?.[1], `${code}'s gRPC status in docs/errors.md`).toBe(
        grpcCodeName(GRPC_STATUS_OF[code]),
      );
      const e = toGrpcError(new KmsError(code, 'm'));
      expect(e.code).toBe(GRPC_STATUS_OF[code]);
      expect(e.details).toBe(`${code}: m`);
    }
  });

  it('turns anything else into INTERNAL without its message', () => {
    const e = toGrpcError(new Error('disk full at /secret/path'));
    expect(e.code).toBe(GrpcStatus.INTERNAL);
    expect(e.details).toBe('internal error');
  });
});
