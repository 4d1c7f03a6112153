// Reads a table out of a docs/*.md section, so that tests can check the docs say what the code does.
import { readFileSync } from 'node:fs';

/**
 * The rows of the first table under the `## heading` of docs/`file`, keyed by the first cell with its backticks
 * removed; the value is the remaining cells, trimmed.
 */
export function docTable(file: string, heading: string): Map<string, string[]> {
  const doc = readFileSync(new URL(`../docs/${file}`, import.meta.url), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith(`${heading}\n`));
  if (!section) throw new Error(`docs/${file} has no section "## ${heading}"`);
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('|') || /^\|[-| ]+\|$/.test(line)) continue;
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
    rows.set(cells[0]!.replaceAll('`', ''), cells.slice(1));
  }
  rows.delete(rows.keys().next().value ?? ''); // the header row
  return rows;
}
