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

export function loadPaperResults(): PaperResults {
  return JSON.parse(readFileSync(new URL('../../configs/paper-results.json', import.meta.url), 'utf8')) as PaperResults;
}
