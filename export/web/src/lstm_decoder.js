// The plain-LSTM Sketch-RNN decoder run in JavaScript: the one place this package writes the
// cell's equations (a .gen.json file has weights but no graph to run).
//
// With H units, M = 20 mixtures, scale factor s, inputs x = [dx / s, dy / s, p1, p2, p3]
// (the previous point, data pixels divided by s) and state (c, h), both zero at the start:
//
//   [i, j, f, o] = [x, h] [W_xh; W_hh] + bias                 (4H columns, gates in this order)
//   c' = c sigmoid(f + 1) + sigmoid(i) tanh(j)               (forget bias 1.0)
//   h' = tanh(c') sigmoid(o)
//   y  = h' W_out + b_out = [q (3) | pi (M) | mu_x | mu_y | log s_x | log s_y | r]
//
// and the step returns the MDN parameters in data pixels, in the column order of our TF.js
// export's decode_step `params` (sketch_rnn_tf/export/tfjs_graphs.py, PARAMS_ORDER):
//   pen_logits = q, pi_logits = pi, mu_x s, mu_y s, exp(log s_x) s, exp(log s_y) s, tanh(r).
// These are sketch_rnn_tf/layers/lstm_cell.py's and mdn.py's equations (gen_json.py imports a
// file by copying tensors, no arithmetic changes); tests/export/test_web_library.py checks
// this module against the Python model step by step.
//
// The state of a row is [c (H), h (H)], the layout of our export's `state` input.

import {Arena, padded} from './kernel.js';
import {OUTPUT_WIDTH, NUM_MIXTURES} from './gen_json.js';

const FORGET_BIAS = 1.0;
export const CHUNK = 16;  // rows per kernel call: a batch reads the weights once per chunk

const sigmoid = v => 1 / (1 + Math.exp(-v));

export class LstmDecoder {
  // weights: parseGenJson's {units, outW, outB, wxh, whh, bias}; kernel: 'wasm-simd' | 'js'.
  constructor(weights, scaleFactor, kernel) {
    const H = this.units = weights.units;
    this.scale = scaleFactor;
    this.numMixture = NUM_MIXTURES;
    this.width = OUTPUT_WIDTH;
    this.stateSize = 2 * H;
    const inputs = 5 + H;
    this.xStride = padded(inputs);
    this.hStride = padded(H);
    const floats = 4 * H * this.xStride + OUTPUT_WIDTH * this.hStride +
        CHUNK * (this.xStride + 4 * H + this.hStride + OUTPUT_WIDTH) + 64;
    const arena = this.arena = new Arena(floats, kernel);
    this.kernel = kernel;
    this.wGates = arena.alloc(4 * H * this.xStride);
    this.wOut = arena.alloc(OUTPUT_WIDTH * this.hStride);
    this.x = arena.alloc(CHUNK * this.xStride);
    this.gates = arena.alloc(CHUNK * 4 * H);
    this.h = arena.alloc(CHUNK * this.hStride);
    this.y = arena.alloc(CHUNK * OUTPUT_WIDTH);
    const f32 = arena.f32;
    // Transposed and padded: row n of the gate matrix is column n of [W_xh; W_hh].
    for (let n = 0; n < 4 * H; n++) {
      const row = this.wGates + n * this.xStride;
      for (let k = 0; k < 5; k++) f32[row + k] = weights.wxh[k * 4 * H + n];
      for (let k = 0; k < H; k++) f32[row + 5 + k] = weights.whh[k * 4 * H + n];
    }
    for (let m = 0; m < OUTPUT_WIDTH; m++) {
      const row = this.wOut + m * this.hStride;
      for (let k = 0; k < H; k++) f32[row + k] = weights.outW[k * OUTPUT_WIDTH + m];
    }
    this.bias = Float32Array.from(weights.bias);
    this.outBias = Float32Array.from(weights.outB);
  }

  zeroState(batch) {
    return new Float32Array(batch * this.stateSize);
  }

  // prev: Float32Array [B * 5] (data pixels), state [B * 2H] -> {params [B * width], state}.
  step(prev, state, batch) {
    const params = new Float32Array(batch * this.width);
    const next = new Float32Array(batch * this.stateSize);
    for (let b0 = 0; b0 < batch; b0 += CHUNK) {
      this.stepChunk(prev, state, next, params, b0, Math.min(CHUNK, batch - b0));
    }
    return {params, state: next};
  }

  // The MDN parameters of states whose h is given (the zero state's, say) without a step.
  head(state, batch) {
    const params = new Float32Array(batch * this.width);
    for (let b0 = 0; b0 < batch; b0 += CHUNK) {
      const n = Math.min(CHUNK, batch - b0);
      const f32 = this.arena.f32, H = this.units;
      for (let b = 0; b < n; b++) {
        f32.set(state.subarray((b0 + b) * this.stateSize + H, (b0 + b + 1) * this.stateSize),
                this.h + b * this.hStride);
      }
      this.output(params, b0, n);
    }
    return params;
  }

  stepChunk(prev, state, next, params, b0, n) {
    const f32 = this.arena.f32, H = this.units, S = this.stateSize;
    for (let b = 0; b < n; b++) {
      const x = this.x + b * this.xStride, p = (b0 + b) * 5;
      f32[x] = prev[p] / this.scale;
      f32[x + 1] = prev[p + 1] / this.scale;
      f32[x + 2] = prev[p + 2];
      f32[x + 3] = prev[p + 3];
      f32[x + 4] = prev[p + 4];
      f32.set(state.subarray((b0 + b) * S + H, (b0 + b + 1) * S), x + 5);
    }
    this.arena.matvec(this.wGates, this.x, this.gates, 4 * H, this.xStride, n);
    const bias = this.bias;
    for (let b = 0; b < n; b++) {
      const g = this.gates + b * 4 * H, s = (b0 + b) * S, hOut = this.h + b * this.hStride;
      for (let u = 0; u < H; u++) {
        const i = f32[g + u] + bias[u];
        const j = f32[g + H + u] + bias[H + u];
        const f = f32[g + 2 * H + u] + bias[2 * H + u];
        const o = f32[g + 3 * H + u] + bias[3 * H + u];
        const c = state[s + u] * sigmoid(f + FORGET_BIAS) + sigmoid(i) * Math.tanh(j);
        const h = Math.tanh(c) * sigmoid(o);
        next[s + u] = c;
        next[s + H + u] = h;
        f32[hOut + u] = h;
      }
    }
    this.output(params, b0, n);
  }

  // y = h W_out + b_out for the chunk's h, then the parameters in data pixels.
  output(params, b0, n) {
    const f32 = this.arena.f32, M = this.numMixture, W = this.width, s = this.scale;
    this.arena.matvec(this.wOut, this.h, this.y, W, this.hStride, n);
    for (let b = 0; b < n; b++) {
      const y = this.y + b * W, out = (b0 + b) * W;
      for (let k = 0; k < W; k++) params[out + k] = f32[y + k] + this.outBias[k];
      for (let k = 3 + 3 * M; k < 3 + 5 * M; k++) params[out + k] = Math.exp(params[out + k]);
      for (let k = 3 + M; k < 3 + 5 * M; k++) params[out + k] *= s;
      for (let k = 3 + 5 * M; k < 3 + 6 * M; k++) params[out + k] = Math.tanh(params[out + k]);
    }
  }
}
