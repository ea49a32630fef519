// SketchRNN: one model, from a published .gen.json decoder or our TF.js export, with the
// @magenta/sketch methods (same names, same meanings) and ours.
//
// Units: drawings go in and come out in "screen pixels" = data pixels / pixelFactor, as in
// @magenta/sketch (pixel factor 2.0 unless set: setPixelFactor(1) or {pixelFactor: 1} gives
// the data's own pixels, those of sketch_rnn_tf's Python sampler).

import {readBytes, parseJson} from './io.js';
import {looksLikeGenJson, parseGenJson} from './gen_json.js';
import {LstmDecoder} from './lstm_decoder.js';
import {simdAvailable} from './kernel.js';
import {EXPORT_FORMAT, GraphDecoder, checkManifest, getTf, looksLikeManifest,
        setBackend} from './graph_decoder.js';
import {START, END, bivariate, categorical, drawPoint, normalPair, normalVector, randomSource,
        slerp, lerp, softmax, stepNoise} from './sampling.js';
import {toStroke5, linesToStroke5} from './strokes.js';
import {simplify} from './simplify.js';

export const DEFAULT_PIXEL_FACTOR = 2.0;
const DEFAULT_MAX_LEN = 250;
const KERNEL_BACKENDS = ['wasm-simd', 'js'];
const TFJS_BACKENDS = ['tfjs-wasm', 'tfjs-cpu', 'tfjs-webgl'];
// Tried by 'auto' for TF.js exports; webgl only on request (no GPU here to measure it on).
const AUTO_TFJS = ['wasm', 'cpu'];

function describeSource(source) {
  return typeof source === 'string' ? source : '<model>';
}

function isVector(v) {
  return (Array.isArray(v) || ArrayBuffer.isView(v)) && v.length > 0 && typeof v[0] === 'number';
}

// A drawing (rows of numbers) or a list of drawings.
function isDrawingList(v) {
  return Array.isArray(v) && v.length > 0 && Array.isArray(v[0]) && v[0].length > 0 &&
      (Array.isArray(v[0][0]) || ArrayBuffer.isView(v[0][0]));
}

export class SketchRNN {
  // source: the URL (or, in Node, path) of a .gen.json or of our export's manifest.json.
  // options: backend ('auto' | 'wasm-simd' | 'js' | 'tfjs-wasm' | 'tfjs-cpu' | 'tfjs-webgl'),
  // pixelFactor, timeoutMs and maxBytes (per file), tf (a TF.js module), wasmPaths (where
  // TF.js's .wasm files are served).
  constructor(source, options = {}) {
    this.source = source;
    this.options = options;
    this.pixelFactor = options.pixelFactor || DEFAULT_PIXEL_FACTOR;
    this.initialized = false;
    this.random = Math.random;
    this.engine = null;
    this.backend = null;
    this.info = null;
  }

  static async load(source, options = {}) {
    const model = new SketchRNN(source, options);
    await model.initialize();
    return model;
  }

  // Reads the model and prepares its runtime; rejects with one Error naming the file and the
  // problem (unreachable, not a model, a model this runtime cannot run).
  async initialize() {
    if (this.initialized) return;
    const where = describeSource(this.source);
    const requested = this.options.backend || 'auto';
    const known = ['auto', ...KERNEL_BACKENDS, ...TFJS_BACKENDS];
    if (!known.includes(requested)) {
      throw new Error(`unknown backend ${JSON.stringify(requested)}: expected one of ${known.join(', ')}`);
    }
    const doc = parseJson(await readBytes(this.source, this.options), where);
    if (looksLikeGenJson(doc)) {
      await this.initGenJson(doc, where, requested);
    } else if (looksLikeManifest(doc)) {
      await this.initExport(doc, where, requested);
    } else if (doc && typeof doc === 'object' && doc.modelTopology) {
      throw new Error(`${where}: a TF.js model.json, not a Sketch-RNN model: load the ` +
                      'manifest.json of the export (sketch-rnn-export --tfjs) instead');
    } else {
      throw new Error(`${where}: not a Sketch-RNN model (expected our export's manifest.json, ` +
                      `format "${EXPORT_FORMAT}", or a .gen.json array [info, shapes, weights])`);
    }
    this.initialized = true;
    this.scaleFactor = this.info.scaleFactor;  // @magenta/sketch's fields
    this.numUnits = this.info.units;
  }

  isInitialized() {
    return this.initialized;
  }

  async initGenJson(doc, where, requested) {
    const weights = parseGenJson(doc, where);
    if (TFJS_BACKENDS.includes(requested)) {
      throw new Error(`${where}: a .gen.json decoder runs on the 'wasm-simd' or 'js' kernel, ` +
                      `not ${requested}`);
    }
    const kernel = requested === 'auto' ? (simdAvailable() ? 'wasm-simd' : 'js') : requested;
    if (kernel === 'wasm-simd' && !simdAvailable()) {
      throw new Error('WebAssembly SIMD is not available in this runtime: use backend "js"');
    }
    const info = weights.info;
    this.engine = new LstmDecoder(weights, info.scale_factor, kernel);
    this.backend = kernel;
    this.stateSizes = [weights.units, weights.units];
    this.info = {
      ...info,  // the file's header (name, mode, version, max_seq_len, scale_factor, ...)
      format: 'gen.json', name: info.name || null, conditional: false, zSize: 0,
      numClasses: 0, classNames: [], cell: 'lstm', units: weights.units,
      numMixture: this.engine.numMixture, scaleFactor: info.scale_factor,
      maxSeqLen: info.max_seq_len,
    };
  }

  async initExport(manifest, where, requested) {
    checkManifest(manifest, where);
    if (KERNEL_BACKENDS.includes(requested)) {
      throw new Error(`${where}: a TF.js export runs on a TF.js backend (tfjs-wasm, tfjs-cpu, ` +
                      `tfjs-webgl), not ${requested}`);
    }
    const tf = await getTf(this.options.tf);
    const candidates = requested === 'auto' ? AUTO_TFJS : [requested.slice(5)];
    const failures = [], working = [];
    for (const name of candidates) {
      let engine = null;
      try {
        await setBackend(tf, name, this.options.wasmPaths);
        engine = await GraphDecoder.load(tf, manifest, this.source,
                                         {...this.options, unfuseBiasAdd: name === 'wasm'});
        await this.selfCheck(engine);
        working.push({name, engine, ms: candidates.length > 1 ? timeSteps(engine) : 0});
      } catch (e) {
        if (engine) engine.dispose();
        // A file that cannot be read or parsed fails the same way on every backend.
        if (/could not (fetch|read)|not a TF.js graph|not a Sketch-RNN/.test(e.message)) throw e;
        failures.push({name, why: e.message});
      }
    }
    // One line per distinct reason: "wasm, cpu: Unknown op 'X'" rather than the same twice.
    const reasons = [...new Set(failures.map(f => f.why))].map(
        why => `${failures.filter(f => f.why === why).map(f => f.name).join(', ')}: ${why}`);
    if (!working.length) {
      throw new Error(`${where}: this model cannot run on TF.js ${tf.version_core || ''} here ` +
                      `(${reasons.join('; ')})`);
    }
    // The fastest backend that gives right answers (measured, not assumed: per-op overhead
    // decides for small decoders, matmul speed for large ones).
    working.sort((a, b) => a.ms - b.ms);
    working.slice(1).forEach(w => w.engine.dispose());
    const {name, engine} = working[0];
    await setBackend(tf, name, this.options.wasmPaths);
    this.engine = engine;
    this.backend = `tfjs-${name}`;
    this.backendNotes = reasons;
    const hp = manifest.hparams || {};
    this.info = {
      format: 'tfjs-export', name: manifest.name || null, conditional: !!manifest.conditional,
      zSize: engine.zSize, numClasses: engine.numClasses, classNames: manifest.class_names || [],
      cell: hp.dec_model || null, units: hp.dec_rnn_size || null,
      numMixture: engine.numMixture, scaleFactor: manifest.scale_factor,
      maxSeqLen: hp.max_seq_len || DEFAULT_MAX_LEN,
      // @magenta/sketch's names for the same figures
      max_seq_len: hp.max_seq_len || DEFAULT_MAX_LEN, scale_factor: manifest.scale_factor,
    };
    this.stateSizes = manifest.state_sizes;
  }

  // Runs each graph on a batch of one and on a batch of two equal rows, which must agree: a
  // missing kernel shows at load, not in the middle of a drawing, and so does a wrong one
  // (as TF.js 4.22's wasm FusedMatMul, which adds the bias wrongly to every row but the
  // first: see unfuseBiasAdd).
  async selfCheck(engine) {
    const Z = engine.zSize;
    const z = Z ? [Array.from({length: Z}, (_, i) => Math.sin(i + 1))] : null;
    const c1 = this.condFor(1, z, [0], engine), c2 = this.condFor(2, z && [z[0], z[0]], [0], engine);
    const s1 = engine.zeroState(1, c1), s2 = engine.zeroState(2, c2);
    agree(s1, s2, 'initial_state');
    const state = s1.map((v, i) => v + 0.1 * Math.cos(i));
    const prev = Float32Array.from([3, -4, 1, 0, 0]);
    const o1 = engine.step(prev, state, 1, c1);
    const o2 = engine.step(tile(prev, 2), tile(state, 2), 2, c2);
    agree(o1.params, o2.params, 'decode_step');
    agree(o1.state, o2.state, 'decode_step');
    if (Z) {
      const rows = Float32Array.from([5, 1, 1, 0, 0, -2, 7, 0, 1, 0, 4, 4, 1, 0, 0]);
      const e1 = await engine.encode(rows, Int32Array.from([3]), 1, 3);
      const e2 = await engine.encode(tile(rows, 2), Int32Array.from([3, 3]), 2, 3);
      agree(e1.mu, e2.mu, 'encode');
      agree(e1.presig, e2.presig, 'encode');
    }
  }

  requireReady() {
    if (!this.initialized) throw new Error('the model is not loaded: await initialize() (or SketchRNN.load) first');
  }

  // ---- the @magenta/sketch surface ---------------------------------------------------------

  setPixelFactor(factor) {
    if (!(factor > 0)) throw new Error(`the pixel factor must be > 0, not ${factor}`);
    this.pixelFactor = factor;
    return this.info ? this.info.scaleFactor / factor : undefined;
  }

  zeroInput() {
    return START.slice();
  }

  // A state: {c, h} (views of the cell's first two state parts, as @magenta/sketch's LSTM
  // state), data (the whole state), params (the mixture it gives, in data pixels), cond.
  makeState(data, params, cond) {
    const [c, h] = this.stateSizes;
    return {c: data.subarray(0, c), h: data.subarray(c, c + h), data, params, cond};
  }

  // The state before the first update. Conditional models take z (default: zeros).
  zeroState(z = null) {
    this.requireReady();
    const cond = this.condFor(1, z ? [Array.from(z)] : null, null);
    const data = this.engine.zeroState(1, cond);
    return this.makeState(data, this.engine.head(data, 1), cond);
  }

  copyState(state) {
    return this.makeState(state.data.slice(), state.params && state.params.slice(), state.cond);
  }

  // Feeds one point [dx, dy, p1, p2, p3] (screen pixels); returns the new state.
  update(input, state) {
    this.requireReady();
    const prev = Float32Array.from(input);
    prev[0] *= this.pixelFactor;
    prev[1] *= this.pixelFactor;
    const {params, state: data} = this.engine.step(prev, state.data, 1, state.cond);
    return this.makeState(data, params, state.cond);
  }

  // Feeds the first `steps` (default: all) of a list of points.
  updateStrokes(strokes, state, steps = strokes.length) {
    for (let k = 0; k < steps; k++) state = this.update(strokes[k], state);
    return state;
  }

  // @magenta/sketch's drawing helpers, on this package's RDP (Python's output) and rows.
  simplifyLines(lines, tolerance = 2.0) {
    return simplify(lines, tolerance);
  }

  simplifyLine(line, tolerance = 2.0) {
    return simplify([line], tolerance)[0];
  }

  linesToStroke(lines) {
    return linesToStroke5(lines);
  }

  // The mixture after a state, in the model's normalised units, as @magenta/sketch gives it:
  // pi and pen are softmax(logits / softmaxTemperature), sigma is scaled by sqrt(temperature).
  getPDF(state, temperature = 0.65, softmaxTemperature = 0.5 + 0.5 * temperature) {
    if (!state || !state.params) {
      throw new Error('this state has no mixture yet: update() it with zeroInput() first');
    }
    const M = this.engine.numMixture, p = state.params, s = this.engine.scale;
    const cols = k => p.subarray(3 + k * M, 3 + (k + 1) * M);
    const sq = Math.sqrt(temperature);
    return {
      pi: softmax(cols(0), softmaxTemperature),
      muX: cols(1).map(v => v / s), muY: cols(2).map(v => v / s),
      sigmaX: cols(3).map(v => v / s * sq), sigmaY: cols(4).map(v => v / s * sq),
      corr: cols(5).slice(),
      pen: softmax(p.subarray(0, 3), softmaxTemperature),
    };
  }

  // One point [dx, dy, p1, p2, p3] in screen pixels drawn from getPDF's mixture.
  sample(pdf) {
    const j = categorical(pdf.pi, this.random);
    const pen = categorical(pdf.pen, this.random);
    const [e1, e2] = normalPair(this.random);
    const [dx, dy] = bivariate(pdf.muX[j], pdf.muY[j], pdf.sigmaX[j], pdf.sigmaY[j], pdf.corr[j],
                               e1, e2);
    const k = this.engine.scale / this.pixelFactor;
    const point = [dx * k, dy * k, 0, 0, 0];
    point[2 + pen] = 1;
    return point;
  }

  // Seeds the randomness of sample() (a number), or Math.random again (null).
  setSeed(seed) {
    this.random = randomSource(seed);
  }

  dispose() {
    if (this.engine) this.engine.dispose && this.engine.dispose();
    this.engine = null;
    this.initialized = false;
  }

  // ---- ours --------------------------------------------------------------------------------

  condFor(batch, zs, labels, engine = this.engine) {
    let z = null, lab = null;
    if (engine.zSize) {
      z = new Float32Array(batch * engine.zSize);
      if (zs) {
        zs.forEach((row, b) => {
          if (!isVector(row) || row.length !== engine.zSize) {
            throw new Error(`z must hold ${engine.zSize} numbers, got ${JSON.stringify(row && row.length)}`);
          }
          z.set(row, b * engine.zSize);
        });
      }
    }
    if (engine.numClasses) {
      lab = new Int32Array(batch);
      for (let b = 0; b < batch; b++) lab[b] = labels ? labels[b % labels.length] : b % engine.numClasses;
    }
    return {z, labels: lab};
  }

  noiseSource(options, batch) {
    const {noise, seed} = options;
    if (typeof noise === 'function') return noise;
    if (noise) return (t, b) => noise[t][b];
    const random = randomSource(seed);
    let t0 = -1, rows = null;
    return (t, b) => {
      if (t !== t0) {  // the whole step's noise at once: a seed gives the same [T][B][4]
        rows = Array.from({length: batch}, () => stepNoise(random));
        t0 = t;
      }
      return rows[b];
    };
  }

  maxLen(options, used = 0) {
    const total = options.maxLen || this.info.maxSeqLen || DEFAULT_MAX_LEN;
    const left = total - used;
    if (left < 1) throw new Error(`the drawing already has ${used} points, maxLen is ${total}`);
    return left;
  }

  priorZ(batch, random) {
    return Array.from({length: batch}, () => normalVector(this.engine.zSize, random));
  }

  // Rows of a drawing in screen pixels -> stroke-5 rows in data pixels.
  dataRows(drawing, what) {
    return toStroke5(drawing, what).map(r => [r[0] * this.pixelFactor, r[1] * this.pixelFactor,
                                              r[2], r[3], r[4]]);
  }

  // The state after reading `rows` (data pixels) from the start, tiled to `batch` rows, and
  // the point the next step reads (the last row).
  primed(rows, batch, cond1, condN) {
    const e = this.engine, S = e.stateSize;
    let state = e.zeroState(1, cond1);
    let prev = Float32Array.from(START);
    for (const row of rows) {
      state = e.step(prev, state, 1, cond1).state;
      prev = Float32Array.from(row);
    }
    const tiled = new Float32Array(batch * S);
    const prevs = new Float32Array(batch * 5);
    for (let b = 0; b < batch; b++) { tiled.set(state, b * S); prevs.set(prev, b * 5); }
    return {state: tiled, prev: prevs, cond: condN};
  }

  // The sampling loop over a batch: yields {index, point} (point in screen pixels; null when
  // row `index` ends) as each is drawn.
  *points({state, prev, cond}, batch, options, maxLen) {
    const e = this.engine, tau = options.temperature ?? 0.65;
    if (!(tau > 0)) throw new Error(`temperature must be > 0, not ${tau}`);
    const noiseAt = this.noiseSource(options, batch);
    const done = new Array(batch).fill(false);
    let left = batch;
    for (let t = 0; t < maxLen && left > 0; t++) {
      const out = e.step(prev, state, batch, cond);
      state = out.state;
      for (let b = 0; b < batch; b++) {
        const noise = noiseAt(t, b);
        if (done[b]) { prev.set(END, b * 5); continue; }
        const point = drawPoint(out.params, b, e.numMixture, tau, noise);
        prev.set(point, b * 5);
        if (point[4] === 1) {
          done[b] = true;
          left -= 1;
          yield {index: b, point: null};
          continue;
        }
        yield {index: b, point: [point[0] / this.pixelFactor, point[1] / this.pixelFactor,
                                 point[2], point[3], point[4]]};
      }
    }
  }

  collect(start, batch, options, maxLen) {
    const sketches = Array.from({length: batch}, () => []);
    for (const {index, point} of this.points(start, batch, options, maxLen)) {
      if (point) sketches[index].push(point);
    }
    return sketches;
  }

  // Where a batch starts: z given (one or a list), else the prior for conditional models.
  startFor(options, batch) {
    this.requireReady();
    let zs = null;
    if (this.engine.zSize) {
      if (options.z) {
        zs = isVector(options.z) ? Array.from({length: batch}, () => Array.from(options.z)) : options.z;
        if (zs.length !== batch) throw new Error(`got ${zs.length} codes z for a batch of ${batch}`);
      } else {
        zs = this.priorZ(batch, randomSource(options.seed === undefined ? undefined : options.seed + 1));
      }
    } else if (options.z) {
      throw new Error('this model is unconditional: it takes no z');
    }
    const cond = this.condFor(batch, zs, options.labels);
    return {state: this.engine.zeroState(batch, cond), prev: tile(START, batch), cond, zs};
  }

  // n sketches from the prior (or from options.z): [sketch], each a list of stroke-5 rows in
  // screen pixels without the end row. options: n, temperature (0.65), seed, maxLen, z,
  // labels, noise ([T][n][4] or (t, b) -> [4]: u_mixture, u_pen, e1, e2).
  async generate(options = {}) {
    const n = options.n ?? 1;
    const start = this.startFor(options, n);
    return this.collect(start, n, options, this.maxLen(options));
  }

  // One sketch per code: z a vector or a list of vectors (conditional models).
  async decode(z, options = {}) {
    this.requireConditional('decode');
    const zs = isVector(z) ? [Array.from(z)] : z;
    return this.generate({...options, n: zs.length, z: zs});
  }

  requireConditional(what) {
    this.requireReady();
    if (!this.engine.zSize) {
      throw new Error(`${what} needs a conditional (VAE) model with an encoder; this one is ` +
                      'decoder-only (a .gen.json, or an export trained with conditional=false)');
    }
  }

  // A drawing (stroke-3 or stroke-5 rows, screen pixels) -> z (the mean; a draw from
  // N(mu, sigma) with {sample: true, seed}). A list of drawings gives a list of codes.
  async encode(drawing, options = {}) {
    this.requireConditional('encode');
    const many = isDrawingList(drawing);
    const drawings = (many ? drawing : [drawing]).map((d, i) => this.dataRows(d, `drawing ${i}`));
    if (drawings.some(d => d.length === 0)) throw new Error('an empty drawing cannot be encoded');
    const batch = drawings.length, steps = Math.max(...drawings.map(d => d.length));
    const strokes = new Float32Array(batch * steps * 5);
    drawings.forEach((rows, b) => {
      for (let t = 0; t < steps; t++) strokes.set(t < rows.length ? rows[t] : END, (b * steps + t) * 5);
    });
    const lengths = Int32Array.from(drawings, d => d.length);
    const {mu, presig} = await this.engine.encode(strokes, lengths, batch, steps);
    const Z = this.engine.zSize, random = options.sample ? randomSource(options.seed) : null;
    const codes = drawings.map((_, b) => Array.from(mu.subarray(b * Z, (b + 1) * Z), (m, k) =>
      random ? m + Math.exp(presig[b * Z + k] / 2) * normalVector(1, random)[0] : m));
    return many ? codes : codes[0];
  }

  // n decodings of a drawing's code.
  async reconstruct(drawing, options = {}) {
    const z = await this.encode(drawing, {sample: options.sampleZ, seed: options.seed});
    const n = options.n ?? 1;
    return this.generate({...options, n, z: Array.from({length: n}, () => z)});
  }

  // `steps` codes from a to b (codes, or drawings to encode) and their sketches, each decoded
  // with the same noise, so the code alone changes along the way. method: 'slerp' | 'linear'.
  async interpolate(a, b, options = {}) {
    this.requireConditional('interpolate');
    const steps = options.steps ?? 5, method = options.method || 'slerp';
    if (!['slerp', 'linear'].includes(method)) throw new Error(`method must be 'slerp' or 'linear', not ${method}`);
    if (!(steps >= 2)) throw new Error(`an interpolation needs at least 2 steps, not ${steps}`);
    const za = isVector(a) ? Array.from(a) : await this.encode(a);
    const zb = isVector(b) ? Array.from(b) : await this.encode(b);
    const f = method === 'slerp' ? slerp : lerp;
    const z = Array.from({length: steps}, (_, k) => f(za, zb, k / (steps - 1)));
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    const sketches = [];
    for (const zk of z) sketches.push((await this.generate({...options, n: 1, seed, z: [zk]}))[0]);
    return {z, sketches};
  }

  // n endings of the user's unfinished drawing (rows in screen pixels): the decoder reads the
  // drawing (teacher forcing), then samples. A conditional model decodes from z (default:
  // the drawing's own code, as sketch_rnn_tf's Sampler.complete). Returns the endings only.
  async complete(drawing, options = {}) {
    const n = options.n ?? 4;
    const start = await this.completionStart(drawing, options, n);
    return this.collect(start, n, options, this.maxLen(options, start.used));
  }

  async completionStart(drawing, options, n) {
    this.requireReady();
    const rows = this.dataRows(drawing, 'drawing');
    let z = null;
    if (this.engine.zSize) {
      z = options.z ? Array.from(options.z) : rows.length ? await this.encode(drawing) :
          new Array(this.engine.zSize).fill(0);
    }
    const label = options.labels ? [options.labels[0]] : null;
    const cond1 = this.condFor(1, z && [z], label);
    const condN = this.condFor(n, z && Array.from({length: n}, () => z), label);
    return {...this.primed(rows, n, cond1, condN), used: rows.length};
  }

  // The streaming form: an async generator of {index, point} as points are drawn (point in
  // screen pixels, null when sketch `index` ends). options as generate, plus prime: a drawing
  // to continue (as complete). The consumer sets the pace: awaiting a frame between points
  // animates the drawing, and the next step is computed only when asked for.
  async *stream(options = {}) {
    const n = options.n ?? 1;
    let start, used = 0;
    if (options.prime) {
      start = await this.completionStart(options.prime, options, n);
      used = start.used;
    } else {
      start = this.startFor(options, n);
    }
    yield* this.points(start, n, options, this.maxLen(options, used));
  }
}

// Each row of `many` equal to `one`, all finite; else an Error naming the graph.
function agree(one, many, graph) {
  const n = one.length;
  for (let i = 0; i < many.length; i++) {
    const a = one[i % n], b = many[i];
    if (!Number.isFinite(b) || !(Math.abs(a - b) <= 1e-4 * (1 + Math.abs(a)))) {
      const what = Number.isFinite(b) ?
          'different answers for equal rows of a batch (a kernel bug of this backend)' :
          'non-finite values';
      throw new Error(`${graph} gives ${what}`);
    }
  }
}

// Milliseconds per decoder step at batch 1 (median of 5, after the self-check's warm-up).
function timeSteps(engine) {
  const cond = {z: engine.zSize ? new Float32Array(engine.zSize) : null,
                labels: engine.numClasses ? new Int32Array(1) : null};
  let state = engine.zeroState(1, cond);
  const prev = Float32Array.from(START), times = [];
  for (let k = 0; k < 5; k++) {
    const t0 = performance.now();
    state = engine.step(prev, state, 1, cond).state;
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[2];
}

function tile(row, batch) {
  const out = new Float32Array(batch * row.length);
  for (let b = 0; b < batch; b++) out.set(row, b * row.length);
  return out;
}
