/**
 * The gRPC target of a unix socket path. `unix://` + a relative path would make its first segment the URI
 * authority (`unix://.data/kms.sock` binds `./kms.sock`), so the path is made absolute first: `unix:///abs/path`.
 */
import { resolve } from 'node:path';

export const unixTarget = (socketPath: string): string => `unix://${resolve(socketPath)}`;
