/**
 * The key_id kubekms's KMS v2 plugin reports to kube-apiserver, `kubekms:<key uuid>:v<version>`: the plugin
 * reports it, and the operator looks for its hash in the API servers' metrics, so both take it from here.
 */
export function formatKeyId(keyUuid: string, version: number): string {
  return `kubekms:${keyUuid}:v${version}`;
}
