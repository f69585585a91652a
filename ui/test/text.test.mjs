// Unit tests of src/text.ts (paragraph layout, UTF-8 byte offsets, formatting), run in node:
// the module has no imports, so it is compiled with Vite's esbuild and imported as-is.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { transformWithEsbuild } from 'vite';

let text;

before(async () => {
  const path = new URL('../src/text.ts', import.meta.url);
  const { code } = await transformWithEsbuild(await readFile(path, 'utf8'), path.pathname, { loader: 'ts', format: 'esm' });
  text = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
});

const bytes = (s) => Buffer.byteLength(s, 'utf8');

/** What the byte span [start, end) of `s` is, decoded the way the engine sees it. */
const slice = (s, start, end) => Buffer.from(s, 'utf8').subarray(start, end).toString('utf8');

/** The text each range covers, read back through the paragraphs. */
function rangeText(paragraphs, ranges) {
  return ranges.map((r) => paragraphs[r.paragraph].text.slice(r.from, r.to));
}

test('paragraphs split on blank lines, with their UTF-16 and UTF-8 starts', () => {
  const s = '  Ünïcode first 🚀.\n\n\nSecond line one\nline two.\r\n\r\n日本語 third.\n  \n';
  const ps = text.layoutParagraphs(s);
  assert.deepEqual(
    ps.map((p) => p.text),
    ['Ünïcode first 🚀.', 'Second line one\nline two.', '日本語 third.'],
  );
  for (const p of ps) {
    assert.equal(s.slice(p.start, p.start + p.text.length), p.text);
    assert.equal(p.startByte, bytes(s.slice(0, p.start)));
    assert.equal(p.byteLength, bytes(p.text));
    assert.equal(slice(s, p.startByte, p.startByte + p.byteLength), p.text);
  }
});

test('empty and blank text has no paragraphs', () => {
  assert.deepEqual(text.layoutParagraphs(''), []);
  assert.deepEqual(text.layoutParagraphs(' \n\n \n'), []);
});

test('a byte span maps to the same characters, after multi-byte and astral characters', () => {
  const s = 'Zürich — café 🚀 naïve.\n\nIt cost 6.3 million €. 日本語 next.\n\nLast one.';
  const ps = text.layoutParagraphs(s);
  for (const sentence of ['It cost 6.3 million €.', '日本語', 'naïve', '🚀', 'Last one.']) {
    const at = s.indexOf(sentence);
    const start = bytes(s.slice(0, at));
    const ranges = text.spanToRanges(ps, start, start + bytes(sentence));
    assert.deepEqual(rangeText(ps, ranges), [sentence], sentence);
  }
});

test('a span across paragraphs is cut into one range per paragraph, skipping the gap', () => {
  const s = 'One two.\n\nThree four.';
  const ps = text.layoutParagraphs(s);
  const ranges = text.spanToRanges(ps, bytes('One '), bytes('One two.\n\nThree'));
  assert.deepEqual(rangeText(ps, ranges), ['two.', 'Three']);
});

test('bad spans are ignored or clamped, never thrown', () => {
  const s = 'Short text.';
  const ps = text.layoutParagraphs(s);
  assert.deepEqual(text.spanToRanges(ps, 5, 5), []);
  assert.deepEqual(text.spanToRanges(ps, 9, 3), []);
  assert.deepEqual(text.spanToRanges(ps, 500, 600), []);
  assert.deepEqual(rangeText(ps, text.spanToRanges(ps, 6, 999)), ['text.']);
});

test('an offset inside a multi-byte character goes back to its start', () => {
  const s = 'a€b'; // € is three bytes: 1..4
  assert.equal(text.byteToIndex(s, 0), 0);
  assert.equal(text.byteToIndex(s, 1), 1);
  assert.equal(text.byteToIndex(s, 2), 1);
  assert.equal(text.byteToIndex(s, 4), 2);
  assert.equal(text.byteToIndex('x🚀y', 5), 3); // 🚀 is four bytes and two UTF-16 units
  assert.equal(text.utf8Length('x🚀y€'), 1 + 4 + 1 + 3);
});

test('reading time, counts, sizes and export names read well', () => {
  assert.equal(text.formatReadingTime(0), 'under a minute to read');
  assert.equal(text.formatReadingTime(0.6), 'under a minute to read');
  assert.equal(text.formatReadingTime(1), '1 min read');
  assert.equal(text.formatReadingTime(6.4), '6 min read');
  assert.equal(text.formatReadingTime(89), '89 min read');
  assert.equal(text.formatReadingTime(90), '2 hours to read');
  assert.equal(text.formatReadingTime(23653), '394 hours to read');
  assert.equal(text.formatReadingTime(120000), '2,000 hours to read');
  assert.equal(text.formatWords(1), '1 word');
  assert.equal(text.formatWords(12345), '12,345 words');
  assert.equal(text.formatBytes(1_117_320_736), '1.1 GB');
  assert.equal(text.formatBytes(420_000_000), '420 MB');
  assert.equal(text.formatBytes(999), '999 B');
  assert.equal(text.formatSeconds(5500), '5.5 s');
  assert.equal(text.formatSeconds(42329), '42 s');
  assert.equal(text.baseName('C:\\Users\\a\\b.md'), 'b.md');
  assert.equal(text.baseName('/home/a/b.md'), 'b.md');
  assert.equal(text.exportFileName('A/B: the "story"?'), 'A B the story.md');
  assert.equal(text.exportFileName(null), 'Summary.md');
  assert.equal(text.exportFileName('  '), 'Summary.md');
});

test('a search snippet splits at UTF-8 byte ranges into plain and marked pieces', () => {
  const s = 'Zürich 🚀 café — naïve café';
  const range = (word, from = 0) => {
    const at = s.indexOf(word, from);
    return [bytes(s.slice(0, at)), bytes(s.slice(0, at)) + bytes(word)];
  };
  const second = s.lastIndexOf('café');
  const pieces = text.splitByteRanges(s, [range('café', second), range('café'), range('naïve')]);
  assert.deepEqual(pieces, [
    { text: 'Zürich 🚀 ', match: false },
    { text: 'café', match: true },
    { text: ' — ', match: false },
    { text: 'naïve', match: true },
    { text: ' ', match: false },
    { text: 'café', match: true },
  ]);
  // Each marked piece is exactly the bytes the engine named.
  for (const [start, end] of [range('café'), range('naïve')]) {
    assert.ok(pieces.some((p) => p.match && p.text === slice(s, start, end)));
  }
  assert.equal(pieces.map((p) => p.text).join(''), s);
});

test('snippet ranges that overlap merge, and ones that cut a character or run past the end are kept whole', () => {
  const s = 'aébc';
  // é is bytes 1..3: a range starting inside it starts at the character.
  assert.deepEqual(text.splitByteRanges(s, [[2, 4]]), [
    { text: 'a', match: false },
    { text: 'éb', match: true },
    { text: 'c', match: false },
  ]);
  assert.deepEqual(text.splitByteRanges(s, [[0, 3], [1, 4]]), [
    { text: 'aéb', match: true },
    { text: 'c', match: false },
  ]);
  assert.deepEqual(text.splitByteRanges(s, [[4, 99]]), [
    { text: 'aéb', match: false },
    { text: 'c', match: true },
  ]);
  assert.deepEqual(text.splitByteRanges(s, [[3, 3], [9, 12]]), [{ text: s, match: false }]);
  assert.deepEqual(text.splitByteRanges('', []), []);
});
