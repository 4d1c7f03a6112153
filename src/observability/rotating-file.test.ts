import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { RotatingFile } from './rotating-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kubekms-rot-'));
  dirs.push(d);
  return d;
};
const line = (i: number) => `${JSON.stringify({ i, pad: 'x'.repeat(40) })}\n`; // 58 bytes

describe('RotatingFile', () => {
  it('rotates before a write would pass maxBytes, keeps maxFiles, never splits a line', async () => {
    const dir = tmp();
    const path = join(dir, 'audit.log');
    const f = new RotatingFile({ path, maxBytes: 200, maxFiles: 2 });
    for (let i = 0; i < 20; i++) f.write(line(i));
    await new Promise<void>((r) => f.end(r));
    expect(readdirSync(dir).sort()).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    const read = (p: string) => readFileSync(join(dir, p), 'utf8');
    // 3 lines (174 bytes) per file; 20 lines: the current file has lines 18-19, .1 has 15-17, .2 has 12-14.
    expect(read('audit.log')).toBe(line(18) + line(19));
    expect(read('audit.log.1')).toBe(line(15) + line(16) + line(17));
    expect(read('audit.log.2')).toBe(line(12) + line(13) + line(14));
    for (const p of readdirSync(dir)) {
      expect(statSync(join(dir, p)).size).toBeLessThanOrEqual(200);
      expect(statSync(join(dir, p)).mode & 0o777).toBe(0o600);
    }
  });

  it('appends to an existing file and counts its size', async () => {
    const path = join(tmp(), 'a.log');
    const first = new RotatingFile({ path, maxBytes: 150, maxFiles: 1 });
    first.write(line(1));
    first.write(line(2));
    await new Promise<void>((r) => first.end(r));
    const second = new RotatingFile({ path, maxBytes: 150, maxFiles: 1 });
    second.write(line(3));
    await new Promise<void>((r) => second.end(r));
    expect(readFileSync(path, 'utf8')).toBe(line(3));
    expect(readFileSync(`${path}.1`, 'utf8')).toBe(line(1) + line(2));
  });

  it('is a pino destination: JSON lines, redacted', async () => {
    const path = join(tmp(), 'k.log');
    const f = new RotatingFile({ path, maxBytes: 1 << 20, maxFiles: 3 });
    const log = createLogger('info', f);
    log.info({ plaintext: 'hunter2-secret', keyId: 'k1' }, 'kmsv2 encrypt');
    await new Promise<void>((r) => f.end(r));
    const text = readFileSync(path, 'utf8');
    expect(JSON.parse(text.trim())).toMatchObject({
      msg: 'kmsv2 encrypt',
      keyId: 'k1',
      plaintext: '[redacted]',
    });
    expect(text).not.toContain('hunter2-secret');
  });

  it('refuses nonsense limits', () => {
    expect(() => new RotatingFile({ path: '/nonexistent/x', maxBytes: 0, maxFiles: 1 })).toThrow(RangeError);
    expect(() => new RotatingFile({ path: '/nonexistent/x', maxBytes: 10, maxFiles: 0 })).toThrow(RangeError);
  });
});
