/**
 * The local admin channel of `kubekms serve` (docs/adr/0023-admin-socket-and-retired-versions.md): a unix socket
 * `admin/admin.sock` in the data directory, whose `admin` directory (0700, owned by the serve user) is the guard,
 * as the KMS socket's private bind directory is. One JSON request per connection, one JSON answer. Only the operations below exist (deny by
 * default), and only on cluster-managed keys: customer keys are administered through their KmsKey or the AWS API.
 */
import { join } from 'node:path';

export const ADMIN_REQUEST_MAX = 4096;

/** The private directory of the admin socket. */
export const adminDir = (dataDir: string): string => join(dataDir, 'admin');
export const adminSocketPath = (dataDir: string): string => join(adminDir(dataDir), 'admin.sock');

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

/**
 * serve-root-rotation.ts: the new root key as the --to-* flags of `rootkey rotate` (move to it) or `rootkey stage`
 * (HA phase 1: hold it) name it (parsed there).
 */
export interface RootRotationRequest {
  readonly op: 'rotateRootKey' | 'stageRootKey';
  readonly to: unknown;
}

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
