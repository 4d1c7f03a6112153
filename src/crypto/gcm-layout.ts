/** The sealed AES-GCM layout both providers share: `nonce(12) || ciphertext || tag(16)`. */
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** Rejects AES keys other than AES-128 and AES-256 (a programming error: keys come from the engine). */
export function checkAesKeyLength(length: number): 16 | 32 {
  if (length !== 16 && length !== 32) throw new Error('crypto: AES-GCM key must be 16 or 32 bytes');
  return length;
}
