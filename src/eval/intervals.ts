/**
 * How sure a measured accuracy is, from its number of test images: the 95 % Wilson score interval, and the
 * decimals worth printing. Every table and figure of the report takes both from here.
 */

/** z of a two-sided 95 % normal interval. */
const Z95 = 1.959963984540054;

/**
 * The 95 % Wilson score interval of a proportion measured on n images (Wilson 1927). Unlike p ± z·√(p(1−p)/n)
 * it stays inside [0, 1] and does not shrink to a point at 0 or 1, where attacked accuracies often are.
 */
export function wilsonInterval(accuracy: number, n: number): [number, number] {
  if (!(n > 0)) throw new Error(`wilsonInterval: n must be > 0 (got ${n})`);
  const z2 = Z95 * Z95;
  const centre = (accuracy + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 / (1 + z2 / n)) * Math.sqrt((accuracy * (1 - accuracy)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Decimals that an accuracy on n images carries: one image moves it by 1/n, so 1,000 images give 3 decimals
 * and 10,000 give 4; more would print noise as if it were signal.
 */
export function decimalsFor(n: number): number {
  return Math.max(1, Math.ceil(Math.log10(n) - 1e-9));
}
