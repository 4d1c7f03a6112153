/** Test helpers for stores as older kubekms wrote them: a version 2 keystore.json turned back into version 1. */
import { readFile, writeFile } from 'node:fs/promises';

type Json = Record<string, unknown>;

/** Rewrites `file` as the version 1 document of the same state (no recordAuthKey, seal or record auths). */
export async function downgradeToV1(file: string): Promise<string> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as Json;
  const strip = (records: unknown) =>
    (records as Json[]).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'auth')));
  const v1 = {
    format: doc.format,
    formatVersion: 1,
    rootKeyCheck: doc.rootKeyCheck,
    generation: doc.generation,
    keys: strip(doc.keys),
    aliases: strip(doc.aliases),
    grants: strip(doc.grants),
  };
  const text = `${JSON.stringify(v1, null, 2)}\n`;
  await writeFile(file, text, { mode: 0o600 });
  return text;
}
