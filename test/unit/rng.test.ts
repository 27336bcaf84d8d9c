/**
 * The project's seeded PRNG: determinism (a run is reproducible), independence of derived streams,
 * and the statistics shuffling and bagging rely on. Seeds are fixed, so the statistical checks are
 * deterministic; their bounds are wide enough (≥ 4 standard deviations) to hold for any healthy stream.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deriveSeed, Rng } from '../../src/run/rng.ts';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

describe('deriveSeed', () => {
  test('is a pure function of (seed, index) and gives 32-bit unsigned seeds', () => {
    assert.equal(deriveSeed(123, 4), deriveSeed(123, 4));
    for (let i = 0; i < 100; i++) {
      const s = deriveSeed(7, i);
      assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32, `${s}`);
    }
  });

  test('neighbouring seeds and indices give distinct seeds', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 50; seed++) for (let index = 0; index < 50; index++) seen.add(deriveSeed(seed, index));
    assert.equal(seen.size, 2500);
    assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
  });
});

describe('Rng', () => {
  test('the same seed replays the same stream; another seed does not', () => {
    assert.deepEqual(draws(new Rng(99), 1000), draws(new Rng(99), 1000));
    const [a, b] = [draws(new Rng(99), 1000), draws(new Rng(100), 1000)];
    assert.ok(a.filter((v, i) => v === b[i]).length <= 1, 'seeds 99 and 100 share their draws');
  });

  test('next() lies in [0, 1) and int(n) in [0, n)', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 10000; i++) {
      const u = rng.next();
      assert.ok(u >= 0 && u < 1, `${u}`);
      const k = rng.int(7);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 7, `${k}`);
    }
  });

  test('int(10) is uniform: chi-square over 100,000 draws below the 0.1% critical value', () => {
    const rng = new Rng(2024);
    const n = 100_000;
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(10)]++;
    const chiSquare = counts.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
    assert.ok(chiSquare < 27.88, `chi-square ${chiSquare.toFixed(2)} with 9 degrees of freedom (counts ${counts.join(',')})`);
  });

  test('next() has mean 1/2 and variance 1/12, and consecutive draws are uncorrelated', () => {
    const rng = new Rng(77);
    const n = 100_000;
    const u = Array.from({ length: n }, () => rng.next());
    const mean = u.reduce((a, b) => a + b, 0) / n;
    const variance = u.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    let lag1 = 0;
    for (let i = 1; i < n; i++) lag1 += (u[i] - mean) * (u[i - 1] - mean);
    const correlation = lag1 / (n - 1) / variance;
    // SDs: mean √(1/12n) ≈ 0.0009; variance √(1/180n) ≈ 0.00024; correlation 1/√n ≈ 0.0032.
    assert.ok(Math.abs(mean - 0.5) < 0.004, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 0.001, `variance ${variance}`);
    assert.ok(Math.abs(correlation) < 0.013, `lag-1 correlation ${correlation}`);
  });

  test('permutation(n) holds each of 0..n-1 exactly once and depends on the seed', () => {
    for (const n of [0, 1, 2, 17, 1000]) {
      const p = new Rng(n + 1).permutation(n);
      assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
    }
    const [a, b] = [new Rng(1).permutation(1000), new Rng(2).permutation(1000)];
    assert.notDeepEqual(a, b);
    assert.notDeepEqual([...a], Array.from({ length: 1000 }, (_, i) => i), 'the identity is no shuffle');
  });

  test('permutation(3) gives all six orders about equally often', () => {
    const rng = new Rng(8);
    const trials = 60_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < trials; i++) {
      const key = rng.permutation(3).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 6);
    // Each count is Binomial(60000, 1/6): mean 10000, SD ≈ 91.
    for (const [order, c] of counts) assert.ok(Math.abs(c - trials / 6) < 5 * 91, `order ${order}: ${c}`);
  });

  test('a bootstrap of m draws keeps ≈ 1 − 1/e of the points', () => {
    const m = 100_000;
    const sample = new Rng(31).bootstrap(m);
    assert.equal(sample.length, m);
    assert.ok(sample.every((k) => Number.isInteger(k) && k >= 0 && k < m));
    const unique = new Set(sample).size;
    // Each point is missed with probability q = (1 − 1/m)^m ≈ 1/e; treating points as independent,
    // the unique count is Binomial(m, 1 − q), an upper bound on its true (occupancy) spread.
    const q = (1 - 1 / m) ** m;
    const mean = m * (1 - q);
    const sd = Math.sqrt(m * q * (1 - q));
    assert.ok(Math.abs(unique - mean) < 4 * sd, `unique ${unique}, expected ${mean.toFixed(0)} ± ${sd.toFixed(0)}`);
    assert.ok(Math.abs(unique / m - (1 - 1 / Math.E)) < 0.01, `unique fraction ${unique / m}`);
  });
});
