import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every word a person reads comes from vi.json / en.json: no text between tags or in text attributes. */
const SRC = join(import.meta.dirname, '..');
const TEXT_BETWEEN_TAGS = /(?<!=)[>}]\s*([^<>{}\s][^<>{}]*?)\s*[<{]/g;
const TEXT_ATTRIBUTES = /\b(?:alt|title|placeholder|aria-label|label)="([^"]*[A-Za-zÀ-ỹ][^"]*)"/g;

function tsxFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsxFiles(path);
    return entry.name.endsWith('.tsx') ? [path] : [];
  });
}

describe('components', () => {
  it('contain no hard-coded text', () => {
    const found: string[] = [];
    for (const file of tsxFiles(SRC)) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(TEXT_BETWEEN_TAGS))
        if (/\p{L}/u.test(m[1] ?? '') && !/[=();`]|=>|&&/.test(m[1] ?? '')) found.push(`${file}: ${m[1]}`);
      for (const m of source.matchAll(TEXT_ATTRIBUTES)) found.push(`${file}: ${m[1]}`);
    }
    expect(found).toEqual([]);
  });
});
