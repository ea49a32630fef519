// Drawing points from the MDN's parameters, randomness, and latent interpolation.
//
// Our sampler (generate, decode, complete, ...), as sketch_rnn_tf/sampling/sampler.py draws,
// so the same noise gives the same sketch in Python, Node and the browser. Per step and
// sketch, noise [u_mixture, u_pen, e1, e2] (u ~ U[0,1), e ~ N(0,1)) and temperature tau:
//   j ~ softmax(pi_logits / tau), pen ~ softmax(pen_logits / tau)   (inverse CDF of u)
//   dx = mu_x + sqrt(tau) sigma_x e1
//   dy = mu_y + sqrt(tau) sigma_y (rho e1 + sqrt(1 - rho^2) e2)
//
// @magenta/sketch's getPDF keeps its own meaning (softmax temperature 0.5 + 0.5 tau by
// default): see SketchRNN.getPDF.

export const START = Object.freeze([0, 0, 1, 0, 0]);
export const END = Object.freeze([0, 0, 0, 0, 1]);

// mulberry32: a small seeded PRNG, so a seed reproduces a drawing anywhere.
export function seededRandom(seed) {
  let a = seed >>> 0;
  return function random() {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSource(seed) {
  if (seed === undefined || seed === null) return Math.random;
  if (!Number.isFinite(seed)) throw new Error(`seed must be a number, not ${JSON.stringify(seed)}`);
  return seededRandom(seed);
}

// A pair of independent standard normals (Box-Muller).
export function normalPair(random) {
  const r = Math.sqrt(-2 * Math.log(1 - random()));
  const angle = 2 * Math.PI * random();
  return [r * Math.cos(angle), r * Math.sin(angle)];
}

export function stepNoise(random) {
  const u0 = random(), u1 = random();
  return [u0, u1, ...normalPair(random)];
}

export function normalVector(size, random) {
  const out = [];
  while (out.length < size) out.push(...normalPair(random));
  return out.slice(0, size);
}

// The first k with cumsum(softmax(logits / tau))_k > u (the last one at rounding).
export function inverseCdf(logits, offset, n, tau, u) {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, logits[offset + k] / tau);
  const p = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) { p[k] = Math.exp(logits[offset + k] / tau - max); total += p[k]; }
  let cdf = 0;
  for (let k = 0; k < n; k++) {
    cdf += p[k] / total;
    if (cdf > u) return k;
  }
  return n - 1;
}

// The offset for standard normals e1, e2 under N((mu_x, mu_y), sigma_x, sigma_y, rho).
export function bivariate(muX, muY, sigmaX, sigmaY, rho, e1, e2) {
  return [muX + sigmaX * e1, muY + sigmaY * (rho * e1 + Math.sqrt(Math.max(1 - rho * rho, 0)) * e2)];
}

// softmax(values / tau), for @magenta/sketch's getPDF.
export function softmax(values, tau) {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v / tau);
  const e = Array.from(values, v => Math.exp(v / tau - max));
  const total = e.reduce((a, b) => a + b, 0);
  return new Float32Array(e.map(v => v / total));
}

// A draw from probabilities (the first k whose cumulative sum passes u ~ U[0, 1)).
export function categorical(probs, random) {
  const u = random();
  let cdf = 0;
  for (let k = 0; k < probs.length; k++) {
    cdf += probs[k];
    if (cdf > u) return k;
  }
  return probs.length - 1;
}

// One stroke-5 point in data pixels for row b of a step's params [B * (3 + 6M)] (columns:
// pen_logits 3, pi_logits, mu_x, mu_y, sigma_x, sigma_y, rho M each). An end point is END.
export function drawPoint(params, b, m, tau, noise) {
  const width = 3 + 6 * m, row = b * width;
  const pen = inverseCdf(params, row, 3, tau, noise[1]);
  if (pen === 2) return END.slice();
  const j = inverseCdf(params, row + 3, m, tau, noise[0]);
  const at = k => params[row + 3 + k * m + j];
  const s = Math.sqrt(tau);
  const [dx, dy] = bivariate(at(1), at(2), s * at(3), s * at(4), at(5), noise[2], noise[3]);
  const point = [dx, dy, 0, 0, 0];
  point[2 + pen] = 1;
  return point;
}

// Latent interpolation (sketch_rnn_tf/sampling/latent.py):
//   linear: z(t) = (1 - t) z0 + t z1
//   slerp:  z(t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1,
//           cos(w) = z0 . z1 / (|z0| |z1|)   (linear when z0, z1 are parallel or zero)
export function lerp(z0, z1, t) {
  return z0.map((a, i) => (1 - t) * a + t * z1[i]);
}

export function slerp(z0, z1, t) {
  let dot = 0, n0 = 0, n1 = 0;
  for (let i = 0; i < z0.length; i++) { dot += z0[i] * z1[i]; n0 += z0[i] ** 2; n1 += z1[i] ** 2; }
  n0 = Math.sqrt(n0);
  n1 = Math.sqrt(n1);
  if (n0 === 0 || n1 === 0) return lerp(z0, z1, t);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / (n0 * n1))));
  if (Math.sin(omega) < 1e-6) return lerp(z0, z1, t);
  const w0 = Math.sin((1 - t) * omega) / Math.sin(omega);
  const w1 = Math.sin(t * omega) / Math.sin(omega);
  return z0.map((a, i) => w0 * a + w1 * z1[i]);
}
