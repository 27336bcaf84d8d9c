/** Figure 1: as PNG, the grid's size, the images' pixels as given, the labels in green (right) or red (wrong); as SVG, its title and class names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { FIGURE_LAYOUT, figureSvg, renderFigure, type FigureCell } from '../../src/eval/figure1.ts';
import { assertNoOverlap } from '../helpers/svg-layout.ts';

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

test('as SVG: a title, each row named, the images embedded, CIFAR-10 labels by class name in green or red, no text over another', () => {
  const classNames = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  const image = new Float32Array(32 * 32 * 3).fill(0.5);
  const row = (offset: number, correct: boolean): FigureCell[] => Array.from({ length: 10 }, (_, i) => ({ image, predicted: (i + offset) % 10, correct }));
  const title = 'Figure 1 (cifar10): BIM (ε = 0.02, α = 0.0025, 8 steps), Grad. 1, on the Rand. Ini. single model (member 0)';
  const svg = figureSvg([row(0, true), row(1, false)], [32, 32, 3], { title, rowNames: ['clean', 'BIM'], classNames });
  assert.ok(svg.includes(`font-weight="bold">${title}</text>`));
  assert.equal(svg.match(/<image [^>]*href="data:image\/png;base64,/g)?.length, 20);
  const labels = [...svg.matchAll(/<text class="label"[^>]*fill="([^"]*)">([^<]*)</g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(labels.slice(0, 10), classNames.map((name) => ['rgb(0,140,0)', name]));
  assert.deepEqual(labels.slice(10).map(([colour]) => colour), Array(10).fill('rgb(210,0,0)'));
  assert.match(svg, />clean<\/text>/);
  assert.match(svg, />BIM<\/text>/);
  assertNoOverlap(svg);
  // MNIST names no classes: the label is the digit.
  const digits = figureSvg([row(0, true)], [32, 32, 3], { title: 't', rowNames: ['clean'] });
  assert.deepEqual([...digits.matchAll(/<text class="label"[^>]*>([^<]*)</g)].map((m) => m[1]), Array.from({ length: 10 }, (_, i) => String(i)));
});
