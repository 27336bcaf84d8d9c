/**
 * Figure 1: test images — clean on the top row, adversarial below — each with the label the scored model
 * predicts for it (green when right, red when wrong). As SVG (what `reproduce` draws): a title naming the
 * attack with ε and the model, the images embedded as PNG, the labels as text (CIFAR-10's by class name). As
 * PNG (`attack --figure x.png`): the grid alone, labels in a built-in 3×5 pixel font.
 */
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import type { AttackSpec } from '../attacks/definition.ts';
import { gradientHooks, NO_GRADIENT, type GradientHooks } from '../attacks/gradients.ts';
import { scorerOf } from '../attacks/scoring.ts';
import type { Split } from '../data/dataset.ts';
import { datasetDescriptor, loadRunDataset } from '../datasets/registry.ts';
import { Ensemble } from '../ensembles/ensemble.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { openRun } from './attack-run.ts';
import { paperName } from './paper.ts';
import { textWidth } from './svg.ts';
import { describeAttack, paperMethodName } from './tables.ts';
import { jobTargets, type AttackJob } from './jobs.ts';
import { batchOf, predictorFor, probabilitiesFor, runAttack, type ScoreTarget } from './measure.ts';

export interface FigureCell {
  /** h × w × c pixels in [0, 1]. */
  image: Float32Array;
  predicted: number;
  correct: boolean;
}

/** Digits 0–9, 3 pixels wide and 5 high, one string per row. */
const DIGITS: string[][] = [
  ['###', '#.#', '#.#', '#.#', '###'],
  ['.#.', '##.', '.#.', '.#.', '###'],
  ['###', '..#', '###', '#..', '###'],
  ['###', '..#', '###', '..#', '###'],
  ['#.#', '#.#', '###', '..#', '..#'],
  ['###', '#..', '###', '..#', '###'],
  ['###', '#..', '###', '#.#', '###'],
  ['###', '..#', '..#', '..#', '..#'],
  ['###', '#.#', '###', '#.#', '###'],
  ['###', '#.#', '###', '..#', '###'],
];

export const FIGURE_LAYOUT = { imageScale: 2, glyphScale: 3, margin: 4, labelPad: 3 };
const CORRECT_RGB = [0, 140, 0];
const WRONG_RGB = [210, 0, 0];

function setPixel(png: PNG, x: number, y: number, rgb: number[]): void {
  const i = 4 * (y * png.width + x);
  png.data[i] = rgb[0];
  png.data[i + 1] = rgb[1];
  png.data[i + 2] = rgb[2];
  png.data[i + 3] = 255;
}

function drawNumber(png: PNG, value: number, centerX: number, top: number, rgb: number[]): void {
  const { glyphScale: s } = FIGURE_LAYOUT;
  const digits = String(value).split('').map(Number);
  const width = digits.length * 4 * s - s;
  let left = Math.round(centerX - width / 2);
  for (const digit of digits) {
    DIGITS[digit].forEach((row, gy) =>
      [...row].forEach((on, gx) => {
        if (on !== '#') return;
        for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) setPixel(png, left + gx * s + dx, top + gy * s + dy, rgb);
      }),
    );
    left += 4 * s;
  }
}

/** Renders rows of cells (all the same image shape) as a PNG. */
export function renderFigure(rows: FigureCell[][], imageShape: [number, number, number]): Buffer {
  const { imageScale, glyphScale, margin, labelPad } = FIGURE_LAYOUT;
  const [h, w, c] = imageShape;
  const cellWidth = w * imageScale;
  const cellHeight = h * imageScale + 2 * labelPad + 5 * glyphScale;
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const png = new PNG({ width: margin + columns * (cellWidth + margin), height: margin + rows.length * (cellHeight + margin) });
  png.data.fill(255);
  rows.forEach((row, r) =>
    row.forEach((cell, col) => {
      const left = margin + col * (cellWidth + margin);
      const top = margin + r * (cellHeight + margin);
      for (let y = 0; y < h * imageScale; y++) {
        for (let x = 0; x < w * imageScale; x++) {
          const base = (Math.floor(y / imageScale) * w + Math.floor(x / imageScale)) * c;
          const rgb = c === 1 ? [0, 0, 0].map(() => cell.image[base]) : [cell.image[base], cell.image[base + 1], cell.image[base + 2]];
          setPixel(png, left + x, top + y, rgb.map((v) => Math.round(255 * v)));
        }
      }
      drawNumber(png, cell.predicted, left + cellWidth / 2, top + h * imageScale + labelPad, cell.correct ? CORRECT_RGB : WRONG_RGB);
    }),
  );
  return PNG.sync.write(png);
}

export interface AttackFigureOptions {
  ensemble: Ensemble;
  /** The model whose predictions label the images. */
  target: ScoreTarget;
  attack: AttackSpec;
  hooks: GradientHooks;
  split: Split;
  imageShape: [number, number, number];
  numClasses: number;
  count: number;
}

/** The first `count` test images, clean and attacked, with the target model's predictions. */
export function attackFigure(options: AttackFigureOptions): FigureCell[][] {
  const count = Math.min(options.count, options.split.count);
  const predict = predictorFor(options.ensemble, options.target);
  const tensors = tf.tidy(() => {
    const { x, labels, y } = batchOf(options.split, options.imageShape, options.numClasses, { index: 0, start: 0, count });
    const { adversarial } = runAttack(options.attack, options.hooks, x, y, { scorer: scorerOf(predict), probabilities: probabilitiesFor(options.ensemble, options.target) }, 0);
    return { clean: x, adversarial, cleanPredictions: predict(x), adversarialPredictions: predict(adversarial), labels };
  });
  const clean = tensors.clean.dataSync() as Float32Array;
  const adversarial = tensors.adversarial.dataSync() as Float32Array;
  const labels = tensors.labels.dataSync();
  const cleanPredictions = tensors.cleanPredictions.dataSync();
  const adversarialPredictions = tensors.adversarialPredictions.dataSync();
  tf.dispose(tensors);
  const pixels = options.imageShape[0] * options.imageShape[1] * options.imageShape[2];
  const row = (images: Float32Array, predictions: ArrayLike<number>): FigureCell[] =>
    Array.from({ length: count }, (_, i) => ({
      image: images.slice(i * pixels, (i + 1) * pixels),
      predicted: predictions[i],
      correct: predictions[i] === labels[i],
    }));
  return [row(clean, cleanPredictions), row(adversarial, adversarialPredictions)];
}

/** One image as a PNG of its own pixels, unscaled (the SVG scales it). */
function imagePng(image: Float32Array, [h, w, c]: [number, number, number]): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const base = (y * w + x) * c;
      setPixel(png, x, y, (c === 1 ? [0, 0, 0].map(() => image[base]) : [image[base], image[base + 1], image[base + 2]]).map((v) => Math.round(255 * v)));
    }
  }
  return PNG.sync.write(png);
}

export interface FigureText {
  /** The title: the data, the attack with ε, the model whose predictions label the images. */
  title: string;
  /** Each row's name, e.g. 'clean', 'BIM'. */
  rowNames: string[];
  /** Class names by label (CIFAR-10); undefined: the label itself (MNIST's digits). */
  classNames?: readonly string[];
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Figure 1 as SVG: title, row names, each image 3× and pixelated, its predicted label below it in green or red. */
export function figureSvg(rows: FigureCell[][], imageShape: [number, number, number], text: FigureText): string {
  const scale = 3;
  const [h, w] = imageShape;
  const name = (label: number) => text.classNames?.[label] ?? String(label);
  const labels = rows.flat().map((cell) => name(cell.predicted));
  const cellWidth = Math.ceil(Math.max(w * scale, ...labels.map((l) => textWidth(l, 11))) + 8);
  const cellHeight = h * scale + 20;
  const left = Math.ceil(10 + Math.max(...text.rowNames.map((r) => textWidth(r, 11))) + 10);
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const width = Math.ceil(Math.max(left + columns * cellWidth + 10, textWidth(text.title, 13) + 20));
  const top = 36;
  const height = top + rows.length * cellHeight + 10;
  const body = rows.flatMap((row, r) => {
    const y = top + r * cellHeight;
    return [
      `<text x="${left - 10}" y="${y + (h * scale) / 2 + 4}" text-anchor="end" font-family="sans-serif" font-size="11">${escapeXml(text.rowNames[r] ?? '')}</text>`,
      ...row.flatMap((cell, col) => {
        const x = left + col * cellWidth + (cellWidth - w * scale) / 2;
        const png = imagePng(cell.image, imageShape).toString('base64');
        const colour = `rgb(${(cell.correct ? CORRECT_RGB : WRONG_RGB).join(',')})`;
        return [
          `<image x="${x}" y="${y}" width="${w * scale}" height="${h * scale}" style="image-rendering: pixelated" href="data:image/png;base64,${png}"/>`,
          `<text class="label" x="${x + (w * scale) / 2}" y="${y + h * scale + 14}" text-anchor="middle" font-family="sans-serif" font-size="11" fill="${colour}">${escapeXml(name(cell.predicted))}</text>`,
        ];
      }),
    ];
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${width / 2}" y="22" text-anchor="middle" font-family="sans-serif" font-size="13" font-weight="bold">${escapeXml(text.title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes Figure 1 as SVG when `path` ends in .svg, else as PNG. */
export function writeFigure(path: string, rows: FigureCell[][], imageShape: [number, number, number], text: FigureText): void {
  writeFileAtomic(path, path.endsWith('.svg') ? figureSvg(rows, imageShape, text) : renderFigure(rows, imageShape));
}

/** Test images shown in the Figure 1 grid. */
export const FIGURE_IMAGES = 10;

/**
 * Figure 1 of a saved run: the first test images, clean and attacked by `job` (gradients from `surrogate`'s
 * ensemble when given), labelled with the predictions of the run's model the job scores first.
 */
export async function drawFigure1(runsRoot: string, runName: string, job: AttackJob, member: number, path: string, surrogate?: string): Promise<void> {
  if (!job.attack) throw new Error('Figure 1 needs an attack');
  const run = openRun(runsRoot, runName);
  const dataset = loadRunDataset(run.manifest, FIGURE_IMAGES);
  const ensemble = await Ensemble.load(run.dir, run.manifest);
  const gradientRun = surrogate ? openRun(runsRoot, surrogate) : undefined;
  const gradientEnsemble = gradientRun ? await Ensemble.load(gradientRun.dir, gradientRun.manifest) : ensemble;
  try {
    const cells = attackFigure({
      ensemble,
      target: jobTargets(job, member)[0],
      attack: job.attack,
      hooks: job.grad ? gradientHooks(gradientEnsemble, { grad: job.grad, member, loss: job.loss }) : NO_GRADIENT,
      split: dataset.test,
      imageShape: dataset.imageShape,
      numClasses: dataset.numClasses,
      count: FIGURE_IMAGES,
    });
    const target = jobTargets(job, member)[0];
    const method = paperName(paperMethodName(run.manifest.config.method));
    const model = target.scoredOn === 'single' ? `the ${method} single model (member ${target.member})` : `the ${method} ensemble`;
    const gradient = job.grad ? `, Grad. ${job.grad}${surrogate ? ` of run ${surrogate}` : ''}` : '';
    writeFigure(path, cells, dataset.imageShape, {
      title: `Figure 1 (${run.manifest.config.dataset}): ${describeAttack(job.attack.definition.id, job.attack.params)}${gradient}, on ${model}`,
      rowNames: ['clean', job.attack.definition.title],
      classNames: datasetDescriptor(run.manifest.config.dataset).classNames,
    });
  } finally {
    ensemble.dispose();
    if (gradientEnsemble !== ensemble) gradientEnsemble.dispose();
  }
}
