/**
 * The apiserver's own checks on EncryptResponse annotations (kmsv2/envelope.go): keys are fully qualified
 * domain names (lowercase DNS-1123 subdomain, at least two labels, no `/`), and keys plus values total at most
 * 32 KiB. kubekms emits no annotations today; this guards any future one before it reaches the apiserver.
 */
export const ANNOTATIONS_MAX_BYTES = 32 * 1024;

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isFullyQualifiedDomainName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  const labels = n.split('.');
  return labels.length >= 2 && labels.every((l) => l.length <= 63 && LABEL.test(l));
}

export function checkAnnotations(annotations: Readonly<Record<string, Uint8Array>>): string | undefined {
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    if (!isFullyQualifiedDomainName(k))
      return `annotation key ${JSON.stringify(k)} is not a fully qualified domain name`;
    total += Buffer.byteLength(k) + v.length;
  }
  return total > ANNOTATIONS_MAX_BYTES
    ? `annotations total ${total} bytes exceed ${ANNOTATIONS_MAX_BYTES}`
    : undefined;
}
