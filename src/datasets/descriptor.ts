/**
 * What ensdef knows about a data set, in one place: its shape and size, where its files come from, how
 * to load them, its networks, and the paper's settings on it. Adding a data set is one descriptor (here),
 * one loader (src/data/) and one model (src/models/).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import type { RemoteFile } from '../data/download.ts';

export interface ModelVariant {
  description: string;
  build: (seed: number) => tf.Sequential;
}

/** How big a reproduction preset is on one data set (src/reproduce/presets.ts gives the defaults). */
export interface ReproductionScale {
  /** Ensemble size (single-model defenses always have 1 member). */
  members: number;
  epochs: number;
  /** Training images (undefined: the full training set). */
  trainLimit?: number;
  /** Test images for Tables 2 and 4 (undefined: the full test set). */
  testLimit?: number;
  /** Test images for the ε / iteration sweeps, PGD and transfer rows. */
  sweepTestLimit: number;
  /** The worst-case suite on every run: test images (undefined: all), APGD iterations, Square's query budget. */
  suite: { testLimit?: number; steps: number; queries: number };
}

export interface DatasetDescriptor {
  name: string;
  /** [height, width, channels] */
  imageShape: [number, number, number];
  numClasses: number;
  /** The classes' names by label, where the labels are not their own names (CIFAR-10; MNIST's digits are). */
  classNames?: readonly string[];
  sizes: { train: number; test: number };
  /** The official files and their checksums (`ensdef data fetch`). */
  remoteFiles: RemoteFile[];
  /** Help text for --data-dir: what the directory holds and its default. */
  dataDirHelp: string;
  /** The full data set from `dataDir` (undefined: the embedded copy or the fetch cache under `cacheRoot`). */
  load(dataDir: string | undefined, cacheRoot: string): Dataset;
  /** Network variants by model name; the first is the paper's network, the others mixed-model ensembles' variants. */
  models: Record<string, ModelVariant>;
  /**
   * The paper's training length, the gaussian-noise σ calibrated for this data set (docs/NOISE-CALIBRATION.md),
   * and the step size and steps of PGD adversarial training at the paper's ε (docs/DEFENSES.md).
   */
  training: { epochs: number; noiseSigma: number; pgdTraining: { alpha: number; steps: number } };
  /** The paper's attack settings (section 4): FGSM's ε; BIM's ε, α and n. Other attacks derive their defaults from them. */
  paperAttacks: { fgsm: { eps: number }; bim: { eps: number; alpha: number; steps: number } };
  /** An ε at which any honest attack should drive accuracy towards 0: a sweep that stays high there is flagged as masking. */
  saturatingEps: number;
  /**
   * Reproduction on this data set: where a preset's scale differs from its defaults (the paper preset always
   * uses the paper's members and epochs), and the ε sweeps.
   */
  reproduce: { scale: { smoke: Partial<ReproductionScale>; cpu: Partial<ReproductionScale> }; sweepEps: { smoke: number[]; full: number[] } };
}
