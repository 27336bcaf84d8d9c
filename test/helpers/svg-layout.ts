/** Text extents in the report's SVG figures, from the same width estimate the layout uses (svg.ts: textWidth). */
import assert from 'node:assert/strict';
import { textWidth } from '../../src/eval/svg.ts';

/** Every text's box in an SVG as our layout estimates it (textWidth); upright text turned by rotate(-90). */
function textBoxes(svg: string): { text: string; left: number; right: number; top: number; bottom: number }[] {
  return [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].map(([, attrs, text]) => {
    const attr = (name: string) => new RegExp(`(?:^| )${name}="([^"]*)"`).exec(attrs)?.[1];
    const size = Number(attr('font-size'));
    const width = textWidth(text.replace(/&amp;/g, '&').replace(/&lt;/g, '<'), size);
    const anchor = attr('text-anchor') ?? 'start';
    const turned = /translate\(([-\d.]+) ([-\d.]+)\) rotate\(-90\)/.exec(attr('transform') ?? '');
    const [x, y] = turned ? [Number(turned[1]), Number(turned[2])] : [Number(attr('x')), Number(attr('y'))];
    const along = anchor === 'middle' ? [-width / 2, width / 2] : anchor === 'end' ? [-width, 0] : [0, width];
    // Glyphs rise about 0.8 em above the baseline and fall 0.2 em below it.
    if (turned) return { text, left: x - 0.8 * size, right: x + 0.2 * size, top: y - along[1], bottom: y - along[0] };
    return { text, left: x + along[0], right: x + along[1], top: y - 0.8 * size, bottom: y + 0.2 * size };
  });
}

export function assertNoOverlap(svg: string): void {
  const width = Number(/<svg [^>]*width="([^"]*)"/.exec(svg)![1]);
  const height = Number(/<svg [^>]*height="([^"]*)"/.exec(svg)![1]);
  const boxes = textBoxes(svg);
  for (const b of boxes) assert.ok(b.left >= 0 && b.top >= 0 && b.right <= width && b.bottom <= height, `'${b.text}' leaves the ${width}×${height} figure: ${JSON.stringify(b)}`);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
      assert.ok(!overlap, `'${a.text}' overlaps '${b.text}'`);
    }
  }
}
