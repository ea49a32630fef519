// The one heavy operation of a decoder step, y = W x for a batch of x, on a float32 arena.
//
// Two implementations with the same layout and results (to float32 rounding):
//   'wasm-simd'  a WebAssembly function using 128-bit SIMD (f32x4), emitted below as bytes,
//                so the package needs no build step and no .wasm file to serve;
//   'js'         the same loop in plain JavaScript, where WebAssembly SIMD is missing.
// A step of an LSTM-512 decoder reads a 517 x 2048 float32 matrix (4.2 MB); measured in
// Node 20 on one core, the JS loop takes ~1.1 ms per matvec and the SIMD one ~0.2 ms.
//
// Layout: W is stored transposed and padded, row n holding the weights of output n over
// the k inputs followed by zeros up to `stride` (a multiple of 8 floats, so the SIMD loop
// reads whole pairs of f32x4). x holds `batch` inputs of `stride` floats each; y receives
// `batch` outputs of `rows` floats each. The loop goes over rows of W on the outside, so a
// batch reads the matrix from memory once.

export const ALIGN = 8;  // floats per stride unit (two f32x4)

export const padded = k => Math.ceil(k / ALIGN) * ALIGN;

// ---- a tiny WebAssembly emitter (only what the one function needs) -------------------------

const uleb = n => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = n => {
  const out = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && (b & 0x40))) { out.push(b); return out; }
    out.push(b | 0x80);
  }
};
const name = s => [...uleb(s.length), ...Array.from(s, c => c.charCodeAt(0))];
const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];

const I32 = 0x7f, V128 = 0x7b;
const get = i => [0x20, i], set = i => [0x21, i], tee = i => [0x22, i];
const i32 = v => [0x41, ...sleb(v)];
const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, EQZ = 0x45, LT_U = 0x49, F32_ADD = 0x92;
const BLOCK = [0x02, 0x40], LOOP = [0x03, 0x40], END = 0x0b, BR = 0x0c, BR_IF = 0x0d;
const F32_STORE = [0x38, 2, 0];
const simd = op => [0xfd, ...uleb(op)];
const V_LOAD = offset => [...simd(0x00), 2, ...uleb(offset)];  // align hint 4 bytes
const V_ZERO = [...simd(0x0c), ...new Array(16).fill(0)];
const F4_ADD = simd(0xe4), F4_MUL = simd(0xe6);
const LANE = l => [...simd(0x1f), l];

// matvec(w, x, y, rows, strideBytes, batch), pointers in bytes:
//   for n < rows: for b < batch: y[b * rows + n] = sum_k w[n * stride + k] x[b * stride + k]
function matvecModule() {
  const [W, X, Y, ROWS, KB, BATCH, J, B, XP, YP, YSTRIDE, A0, A1] = [...Array(13).keys()];
  const body = [
    2, 5, I32, 2, V128,                                    // locals j b xp yp ystride, a0 a1
    ...get(ROWS), ...i32(4), MUL, ...set(YSTRIDE),
    ...BLOCK, ...LOOP,                                     // over rows of W
    ...get(ROWS), EQZ, BR_IF, 1,
    ...get(X), ...set(XP), ...get(Y), ...set(YP), ...get(BATCH), ...set(B),
    ...BLOCK, ...LOOP,                                     // over the batch
    ...get(B), EQZ, BR_IF, 1,
    ...V_ZERO, ...set(A0), ...V_ZERO, ...set(A1), ...i32(0), ...set(J),
    ...LOOP,                                               // over k, 8 floats a turn
    ...get(A0), ...get(W), ...get(J), ADD, ...V_LOAD(0), ...get(XP), ...get(J), ADD,
    ...V_LOAD(0), ...F4_MUL, ...F4_ADD, ...set(A0),
    ...get(A1), ...get(W), ...get(J), ADD, ...V_LOAD(16), ...get(XP), ...get(J), ADD,
    ...V_LOAD(16), ...F4_MUL, ...F4_ADD, ...set(A1),
    ...get(J), ...i32(32), ADD, ...tee(J), ...get(KB), LT_U, BR_IF, 0,
    END,
    ...get(YP),                                            // address, then the lane sum
    ...get(A0), ...get(A1), ...F4_ADD, ...tee(A0), ...LANE(0), ...get(A0), ...LANE(1), F32_ADD,
    ...get(A0), ...LANE(2), ...get(A0), ...LANE(3), F32_ADD, F32_ADD,
    ...F32_STORE,
    ...get(XP), ...get(KB), ADD, ...set(XP), ...get(YP), ...get(YSTRIDE), ADD, ...set(YP),
    ...get(B), ...i32(1), SUB, ...set(B),
    BR, 0, END, END,
    ...get(W), ...get(KB), ADD, ...set(W), ...get(Y), ...i32(4), ADD, ...set(Y),
    ...get(ROWS), ...i32(1), SUB, ...set(ROWS),
    BR, 0, END, END,
    END,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 6, I32, I32, I32, I32, I32, I32, 0]),   // (i32 x6) -> ()
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('matvec'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

let moduleCache;  // undefined: not tried; null: SIMD unavailable

function simdModule() {
  if (moduleCache === undefined) {
    moduleCache = null;
    try {
      const bytes = matvecModule();
      if (typeof WebAssembly === 'object' && WebAssembly.validate(bytes)) {
        moduleCache = new WebAssembly.Module(bytes);
      }
    } catch (e) {
      moduleCache = null;
    }
  }
  return moduleCache;
}

export function simdAvailable() {
  return simdModule() !== null;
}

function matvecJs(f32, w, x, y, rows, stride, batch) {
  for (let n = 0; n < rows; n++) {
    const o = w + n * stride;
    for (let b = 0; b < batch; b++) {
      const xo = x + b * stride;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < stride; k += 4) {
        s0 += f32[o + k] * f32[xo + k];
        s1 += f32[o + k + 1] * f32[xo + k + 1];
        s2 += f32[o + k + 2] * f32[xo + k + 2];
        s3 += f32[o + k + 3] * f32[xo + k + 3];
      }
      f32[y + b * rows + n] = (s0 + s1) + (s2 + s3);
    }
  }
}

const PAGE_FLOATS = 65536 / 4;

// A float32 arena of `floats` values with matvec over it. kind: 'wasm-simd' or 'js';
// asking for 'wasm-simd' where it is missing is an error (the caller picks with
// simdAvailable()). Offsets and lengths are in floats.
export class Arena {
  constructor(floats, kind) {
    this.kind = kind;
    if (kind === 'wasm-simd') {
      const module = simdModule();
      if (!module) throw new Error('WebAssembly SIMD is not available in this runtime');
      const memory = new WebAssembly.Memory({initial: Math.ceil(floats / PAGE_FLOATS) + 1});
      this.f32 = new Float32Array(memory.buffer);
      this.run = new WebAssembly.Instance(module, {env: {memory}}).exports.matvec;
    } else if (kind === 'js') {
      this.f32 = new Float32Array(floats);
    } else {
      throw new Error(`unknown kernel ${kind}: expected 'wasm-simd' or 'js'`);
    }
    this.used = 0;
  }

  // `floats` values, starting on a 16-byte boundary.
  alloc(floats) {
    const at = this.used;
    this.used += padded(floats);
    if (this.used > this.f32.length) throw new Error('arena overflow (a bug: sized too small)');
    return at;
  }

  matvec(w, x, y, rows, stride, batch) {
    if (this.run) this.run(w * 4, x * 4, y * 4, rows, stride * 4, batch);
    else matvecJs(this.f32, w, x, y, rows, stride, batch);
  }
}
