/**
 * The project's own seeded PRNG. tfjs' fit({shuffle:true}) draws from Math.random and cannot be seeded,
 * so shuffling, bootstrap draws and per-batch noise seeds all come from here.
 */

/** splitmix32 finaliser: spreads a 32-bit value so nearby seeds give unrelated streams. */
function mix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Seed of stream `index` under `seed` (member i of a run, the noise stream of a member, ...). */
export function deriveSeed(seed: number, index: number): number {
  return mix32(mix32(seed >>> 0) ^ mix32((index + 0x632be5ab) >>> 0));
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // sfc32, seeded through splitmix so that small seeds are well spread.
    this.a = mix32(seed);
    this.b = mix32(this.a);
    this.c = mix32(this.b);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The generator's whole state, for a training checkpoint: restoring it continues the same stream. */
  state(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }

  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v))) throw new Error(`invalid Rng state ${JSON.stringify(state)}`);
    const rng = new Rng(0);
    [rng.a, rng.b, rng.c, rng.d] = state;
    return rng;
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i];
      out[i] = out[j];
      out[j] = tmp;
    }
    return out;
  }

  /** m indices drawn with replacement from 0..m-1: a bootstrap replicate. */
  bootstrap(m: number): Int32Array {
    const out = new Int32Array(m);
    for (let i = 0; i < m; i++) out[i] = this.int(m);
    return out;
  }
}
