/**
 * The on-disk formats of a root key file. A key is 32 bytes; the file holds it as
 *   - raw: exactly 32 bytes (what `FileRootKey.create` writes), or
 *   - hex: 64 hex digits, optionally followed by one newline (`openssl rand -hex 32 > root.key`), or
 *   - base64: 44 characters (43 + one `=`), optionally followed by one newline (`openssl rand -base64 32`).
 * The formats are told apart by the file length (32, 64/65, 44/45 bytes), so a raw key is never misread.
 */
export const ROOT_KEY_BYTES = 32;

const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/** The key bytes, or a description of what is wrong (never containing file content). */
export function parseRootKeyFile(content: Uint8Array): Uint8Array | string {
  if (content.length === ROOT_KEY_BYTES) return Uint8Array.from(content);
  const expected = 'expected 32 raw bytes, 64 hex digits or 44 base64 characters (optionally with a newline)';
  if (content.length > 90) return `${expected}, found ${content.length} bytes`;
  let text = Buffer.from(content).toString('latin1');
  if (text.endsWith('\r\n')) text = text.slice(0, -2);
  else if (text.endsWith('\n')) text = text.slice(0, -1);
  if (HEX.test(text)) return Uint8Array.from(Buffer.from(text, 'hex'));
  if (BASE64.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === ROOT_KEY_BYTES) return Uint8Array.from(bytes);
  }
  return `${expected}, found ${content.length} bytes that are none of these`;
}
