/** Clean test accuracy of a finished run: every member alone, and the ensemble. */
import { loadRunDataset } from '../datasets/registry.ts';
import { Ensemble } from '../ensembles/ensemble.ts';
import { accuracyOf, argmaxRows, evaluateAccuracy, modelLogits, scoreSplit } from '../models/predict.ts';
import type { Manifest } from '../run/manifest.ts';

/** Single-member and ensemble clean test accuracy of a finished run. */
export async function evaluateRun(dir: string, manifest: Manifest): Promise<NonNullable<Manifest['evaluation']>> {
  const dataset = loadRunDataset(manifest);
  const ensemble = await Ensemble.load(dir, manifest);
  try {
    const memberAccuracy = ensemble.members.map((m) => evaluateAccuracy(modelLogits(m), dataset.test, dataset.imageShape, dataset.numClasses));
    const probabilities = scoreSplit((x) => ensemble.probabilities(x), dataset.test, dataset.imageShape);
    const ensembleAccuracy = accuracyOf(argmaxRows(probabilities, dataset.numClasses), dataset.test.labels);
    return { testCount: dataset.test.count, memberAccuracy, ensembleAccuracy };
  } finally {
    ensemble.dispose();
  }
}

