/** The paper's Table 2 and Table 4 (the project's own copy, configs/paper-results.json). */
import { readFileSync } from 'node:fs';

export interface PaperTable2Row {
  dataset: string;
  attack: string;
  method: string;
  no_attack_single: number;
  no_attack_ensemble: number;
  grad1_single: number;
  grad1_ensemble: number;
  grad2_ensemble: number;
}

export interface PaperTable4Row {
  dataset: string;
  defense: string;
  no_attack: number;
  fgsm: number;
  bim: number;
}

export interface PaperResults {
  source: string;
  table2: PaperTable2Row[];
  table4: PaperTable4Row[];
}

/** The paper prints four decimals; its values are quoted as printed, wherever ours carry fewer. */
export const PAPER_DECIMALS = 4;

export function loadPaperResults(): PaperResults {
  return JSON.parse(readFileSync(new URL('../../configs/paper-results.json', import.meta.url), 'utf8')) as PaperResults;
}

/** The paper's printed name of each method and defense (section 4: "Rand. Ini.", "Adv. Train.", ...). */
const PAPER_NAMES: Readonly<Record<string, string>> = {
  random_init: 'Rand. Ini.',
  mixed_models: 'Mix. Mod.',
  bagging: 'Bagging',
  gaussian_noise: 'Gauss Noise',
  adversarial_training: 'Adv. Train.',
  defensive_distillation: 'Def. Dist.',
  // Beyond the paper, abbreviated as it abbreviates.
  pgd_adversarial_training: 'PGD Adv. Train.',
  ensemble_pgd_adversarial_training: 'Ens. PGD Adv. Train.',
};

/** A row key of configs/paper-results.json as the paper prints it; combinations join with " + " as in Table 4. */
export function paperName(key: string): string {
  return key
    .split('+')
    .map((part) => PAPER_NAMES[part] ?? part)
    .join(' + ');
}

/**
 * The paper's row order on a data set, from configs/paper-results.json (itself in the paper's order): Table 2
 * methods, then the Table 4 defenses that Table 2 lacks. A row the paper does not have sorts after all of them.
 */
export function paperRank(paper: PaperResults, dataset: string): (key: string) => number {
  const keys = [...paper.table2.filter((r) => r.dataset === dataset).map((r) => r.method), ...paper.table4.filter((r) => r.dataset === dataset).map((r) => r.defense)];
  const order = [...new Set(keys)];
  return (key) => (order.includes(key) ? order.indexOf(key) : order.length);
}
