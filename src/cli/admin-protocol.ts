/**
 * The local admin channel of `kubekms serve` (docs/adr/0022-admin-socket.md): a unix socket `admin.sock` inside
 * the data directory, whose 0700 mode (owned by the serve user) is the guard, as the KMS socket's private
 * directory is. One JSON request per connection, one JSON answer. Only the operations below exist (deny by
 * default), and only on cluster-managed keys: customer keys are administered through their KmsKey or the AWS API.
 */
import { join } from 'node:path';

export const ADMIN_SOCKET = 'admin.sock';
export const ADMIN_REQUEST_MAX = 4096;

export const adminSocketPath = (dataDir: string): string => join(dataDir, ADMIN_SOCKET);

export type AdminRequest =
  | { readonly op: 'rotate'; readonly key: string }
  | { readonly op: 'versions'; readonly key: string }
  | {
      readonly op: 'scheduleVersionDestruction';
      readonly key: string;
      readonly version: number;
      readonly pendingWindowDays: number;
    }
  | { readonly op: 'cancelVersionDestruction'; readonly key: string; readonly version: number };

export const ADMIN_OPS: readonly AdminRequest['op'][] = [
  'rotate',
  'versions',
  'scheduleVersionDestruction',
  'cancelVersionDestruction',
];

export interface VersionRow {
  readonly version: number;
  readonly state: string;
  readonly retiredAt?: number;
  readonly lastUsedAt?: number;
  readonly destroyAt?: number;
}

export type AdminAnswer =
  | {
      readonly ok: true;
      readonly keyArn: string;
      readonly primaryVersion: number;
      readonly staged?: number;
      readonly versions?: readonly VersionRow[];
      readonly destroyAt?: number;
      readonly cancelled?: boolean;
    }
  | { readonly ok: false; readonly code: string; readonly message: string };
