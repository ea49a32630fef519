// A converted Sketch-RNN (sketch_rnn_tf/export/tfjs.py) driven from JavaScript.
//
// The per-step loop over an export's decode_step graph that tests/js_tfjs/check_tfjs.js
// checks beside the converted whole loop; the sketch-rnn-tf library (src/) supersedes it,
// and its sampling helpers are the library's. Units are the data's pixels throughout: the
// graphs normalise with the stored scale factor themselves.
//
//   const model = await SketchModel.load(tf, manifest, path => tf.loadGraphModel(base + path));
//   const s = model.start(z);              // {state, prev} for a batch (z: null or [B][Nz])
//   const pts = model.continue(s, {temperature: 0.5, maxLen: 250, noise}); // stroke-5 rows
//
// Sampling per step, in JS, from the decode_step graph's untempered MDN parameters:
//   j ~ softmax(pi_logits / tau), pen ~ softmax(pen_logits / tau) (inverse CDF of u),
//   dx = mu_x + sqrt(tau) sigma_x e1,
//   dy = mu_y + sqrt(tau) sigma_y (rho e1 + sqrt(1 - rho^2) e2)
// as sketch_rnn_tf/sampling/sampler.py draws them: the same noise gives the same sketch.
import {END, START, inverseCdf, normalPair, seededRandom} from './src/sampling.js';

// Noise for one step of one sketch: [u_mixture, u_pen, e1, e2], in the order the
// random numbers were drawn before this file used the library's helpers.
function stepNoise(random) {
  const [e1, e2] = normalPair(random);
  return [random(), random(), e1, e2];
}

// One stroke-5 point for row b from the step's parameters (typed arrays [B * M]).
function drawPoint(p, b, m, tau, noise) {
  const j = inverseCdf(p.pi_logits, b * m, m, tau, noise[0]);
  const pen = inverseCdf(p.pen_logits, b * 3, 3, tau, noise[1]);
  const i = b * m + j;
  const s = Math.sqrt(tau);
  const rho = p.rho[i];
  const dx = p.mu_x[i] + s * p.sigma_x[i] * noise[2];
  const dy = p.mu_y[i] + s * p.sigma_y[i] * (rho * noise[2] +
                                             Math.sqrt(Math.max(1 - rho * rho, 0)) * noise[3]);
  const point = [dx, dy, 0, 0, 0];
  point[2 + pen] = 1;
  return pen === 2 ? END.slice() : point;
}

class SketchModel {
  constructor(tf, manifest, graphs) {
    this.tf = tf;
    this.manifest = manifest;
    this.graphs = graphs;
    this.stateWidth = manifest.state_sizes.reduce((a, b) => a + b, 0);
    this.zSize = manifest.conditional ? manifest.z_size : 0;
    this.m = manifest.num_mixture;
    const outputs = manifest.graphs.decode_step.outputs;
    this.stepNodes = [outputs.params.node, outputs.state.node];
    this.layout = manifest.params_layout;
    this.width = 3 + 6 * this.m;
  }

  // manifest: the parsed manifest.json; loadGraph(path relative to it) -> GraphModel.
  static async load(tf, manifest, loadGraph) {
    const graphs = {};
    for (const name of Object.keys(manifest.graphs)) {
      graphs[name] = await loadGraph(manifest.graphs[name].path);
    }
    return new SketchModel(tf, manifest, graphs);
  }

  feed(graph, values) {
    const out = {};
    for (const [name, value] of Object.entries(values)) {
      if (value === null || value === undefined) continue;
      out[this.manifest.graphs[graph].inputs[name].node] = value;
    }
    return out;
  }

  // z ~ N(0, I) for a batch (conditional models), or null.
  randomZ(batch, random) {
    if (!this.zSize) return null;
    const z = [];
    for (let b = 0; b < batch; b++) {
      const row = [];
      while (row.length < this.zSize) row.push(...stepNoise(random).slice(2));
      z.push(row.slice(0, this.zSize));
    }
    return z;
  }

  // The decoder at the start of a batch: {state (tensor [B, S]), prev, z, labels}.
  start(batch, z = null, labels = null) {
    const tf = this.tf;
    const zT = z ? tf.tensor2d(z, [batch, this.zSize], 'float32') : null;
    let state;
    if (this.graphs.initial_state) {
      const node = this.manifest.graphs.initial_state.outputs.state.node;
      state = this.graphs.initial_state.execute(this.feed('initial_state', {z: zT}), node);
    } else {
      state = tf.zeros([batch, this.stateWidth]);
    }
    const labelsT = labels ? tf.tensor1d(labels, 'int32') : null;
    const prev = [];
    for (let b = 0; b < batch; b++) prev.push(START.slice());
    return {state, prev, z: zT, labels: labelsT, batch};
  }

  // One decode_step: reads prev (rows of stroke-5 px), replaces s.state; returns the
  // step's parameters as typed arrays [B * width] {pen_logits, pi_logits, mu_x, ..., rho}
  // (one packed output: a single read per step; the state stays a tensor).
  step(s) {
    const tf = this.tf;
    const prev = tf.tensor2d(s.prev, [s.batch, 5], 'float32');
    const [packed, state] = this.graphs.decode_step.execute(
        this.feed('decode_step', {prev, state: s.state, z: s.z, labels: s.labels}),
        this.stepNodes);
    prev.dispose();
    s.state.dispose();
    s.state = state;
    const data = packed.dataSync();
    packed.dispose();
    const params = {};
    for (const [name, [start, end]] of Object.entries(this.layout)) {
      if (s.batch === 1) { params[name] = data.subarray(start, end); continue; }
      const width = end - start;
      const column = new Float32Array(s.batch * width);
      for (let b = 0; b < s.batch; b++) {
        column.set(data.subarray(b * this.width + start, b * this.width + end), b * width);
      }
      params[name] = column;
    }
    return params;
  }

  // Feeds given pixel stroke-5 rows (one list per batch row, equal lengths) through
  // the decoder: the state after them, ready to continue from the last one.
  prime(s, rows) {
    for (let t = 0; t < rows[0].length; t++) {
      this.step(s);
      s.prev = rows.map(r => r[t].slice());
    }
    return s;
  }

  // Samples up to maxLen points per row with decode_step steps driven from JS.
  // noise: a function (t, b) -> [4] or an array [T][B][4]. Returns {points: [B][L][5]
  // stroke-5 px, up to and without the end row; lengths}.
  continue(s, {temperature = 0.5, maxLen = 250, noise, onPoint = null}) {
    const noiseAt = typeof noise === 'function' ? noise : (t, b) => noise[t][b];
    const points = [];
    const done = [];
    for (let b = 0; b < s.batch; b++) { points.push([]); done.push(false); }
    for (let t = 0; t < maxLen && done.includes(false); t++) {
      const p = this.step(s);
      for (let b = 0; b < s.batch; b++) {
        if (done[b]) { s.prev[b] = END.slice(); continue; }
        const point = drawPoint(p, b, this.m, temperature, noiseAt(t, b));
        s.prev[b] = point;
        if (point[4] === 1) { done[b] = true; continue; }
        points[b].push(point);
        if (onPoint) onPoint(b, point);
      }
    }
    return {points, lengths: points.map(r => r.length)};
  }

  // The whole loop in the converted graph (executeAsync): temperature [B], noise
  // [T][B][4] -> {strokes: [B][T][5] px (end rows after the end), lengths}.
  async sampleGraph(temperature, noise, z = null, labels = null) {
    const tf = this.tf;
    const batch = temperature.length;
    const g = this.manifest.graphs.sample;
    const feed = this.feed('sample', {
      temperature: tf.tensor1d(temperature, 'float32'),
      noise: tf.tensor3d(noise, [noise.length, batch, 4], 'float32'),
      z: z ? tf.tensor2d(z, [batch, this.zSize], 'float32') : null,
      labels: labels ? tf.tensor1d(labels, 'int32') : null,
    });
    const outs = await this.graphs.sample.executeAsync(
        feed, [g.outputs.strokes.node, g.outputs.lengths.node]);
    const result = {strokes: await outs[0].array(), lengths: await outs[1].array()};
    outs.forEach(t => t.dispose());
    Object.values(feed).forEach(t => t.dispose());
    return result;
  }

  dispose(s) {
    for (const key of ['state', 'z', 'labels']) if (s[key]) s[key].dispose();
  }
}

SketchModel.START = START;
SketchModel.END = END;
SketchModel.seededRandom = seededRandom;
SketchModel.stepNoise = stepNoise;
SketchModel.drawPoint = drawPoint;

export default SketchModel;
