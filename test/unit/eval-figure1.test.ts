/** Figure 1's PNG: the grid's size, the images' pixels as given, the predicted labels drawn green (right) or red (wrong). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { FIGURE_LAYOUT, renderFigure, type FigureCell } from '../../src/eval/figure1.ts';

test('a 2 × 3 grid of 4×4 grey images with their labels', () => {
  const { imageScale, glyphScale, margin, labelPad } = FIGURE_LAYOUT;
  const image = (value: number) => new Float32Array(16).fill(value);
  const row = (correct: boolean): FigureCell[] => [0.25, 0.5, 1].map((v, i) => ({ image: image(v), predicted: i + 7, correct }));
  const png = PNG.sync.read(renderFigure([row(true), row(false)], [4, 4, 1]));
  const cellWidth = 4 * imageScale;
  const cellHeight = 4 * imageScale + 2 * labelPad + 5 * glyphScale;
  assert.equal(png.width, margin + 3 * (cellWidth + margin));
  assert.equal(png.height, margin + 2 * (cellHeight + margin));

  const rgb = (x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));
  // second image of the first row: grey 0.5 → 128 everywhere inside it
  const left = margin + cellWidth + margin;
  for (let y = margin; y < margin + 4 * imageScale; y++) for (let x = left; x < left + cellWidth; x++) assert.deepEqual(rgb(x, y), [128, 128, 128]);

  const labelColours = (r: number) => {
    const colours = new Set<string>();
    const top = margin + r * (cellHeight + margin) + 4 * imageScale;
    for (let y = top; y < top + 2 * labelPad + 5 * glyphScale; y++) for (let x = 0; x < png.width; x++) colours.add(rgb(x, y).join(','));
    colours.delete('255,255,255');
    return [...colours];
  };
  assert.deepEqual(labelColours(0), ['0,140,0']);
  assert.deepEqual(labelColours(1), ['210,0,0']);
});

test('different labels draw different glyphs', () => {
  const cell = (predicted: number): FigureCell => ({ image: new Float32Array(16), predicted, correct: true });
  const [one, eight] = [1, 8].map((label) => PNG.sync.read(renderFigure([[cell(label)]], [4, 4, 1])));
  const inked = (png: PNG) => png.data.filter((_, i) => i % 4 === 1 && png.data[i - 1] === 0 && png.data[i] === 140).length;
  // "1" has 8 lit cells of the 3×5 font (.#. ##. .#. .#. ###), "8" has 13; each cell is glyphScale² pixels
  const s2 = FIGURE_LAYOUT.glyphScale ** 2;
  assert.equal(inked(one), 8 * s2);
  assert.equal(inked(eight), 13 * s2);
});
