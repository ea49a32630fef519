// Published @magenta/sketch decoders (`.gen.json`), parsed in JavaScript.
//
// The file is one JSON array [info, shapes, weights]:
//   info     {"mode": 2 | "gen", "version": 1..6, "max_seq_len", "scale_factor", "name", ...}
//            (both the {"mode": 2, "version": 6} header and the older {"mode": "gen",
//            "version": 2, "r_loss", "training_size"} one); modes 0, 1, "vae" are VAEs,
//            which no reader we can run pins down, so they are refused.
//   shapes   [[H, 123], [123], [5, 4H], [H, 4H], [4H]]: output W, output b, LSTM W_xh,
//            W_hh, bias (123 = 3 + 6 M with M = 20 mixtures)
//   weights  one base64 string per tensor: little-endian int16 q, row-major, standing for
//            w = 10 q / 32767 (as sketch_rnn_tf/export/gen_json.py reads and writes them)

export const NUM_MIXTURES = 20;
export const OUTPUT_WIDTH = 3 + 6 * NUM_MIXTURES;
const MAX_WEIGHT = 10;
const QUANT_MAX = 32767;
const DECODER_MODES = [2, 'gen'];
const VAE_MODES = [0, 1, 'vae'];
const MAX_VERSION = 6;

export function looksLikeGenJson(doc) {
  return Array.isArray(doc) && doc.length === 3 && doc[0] !== null && typeof doc[0] === 'object' &&
      Array.isArray(doc[1]);
}

function checkInfo(info, where) {
  const {mode, version, scale_factor: scale, max_seq_len: maxLen} = info;
  if (VAE_MODES.includes(mode)) {
    throw new Error(`${where}: mode ${JSON.stringify(mode)} is a VAE .gen.json (encoder + ` +
                    'decoder); only decoder-only files (mode 2) can be run: export a ' +
                    'conditional model with sketch-rnn-export --tfjs instead');
  }
  if (!DECODER_MODES.includes(mode)) {
    throw new Error(`${where}: unknown mode ${JSON.stringify(mode)} (decoder-only files have mode 2)`);
  }
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw new Error(`${where}: unknown .gen.json version ${JSON.stringify(version)} (known: 1..${MAX_VERSION})`);
  }
  if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale)) {
    throw new Error(`${where}: info.scale_factor must be a positive number, not ${JSON.stringify(scale)}`);
  }
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new Error(`${where}: info.max_seq_len must be a positive integer, not ${JSON.stringify(maxLen)}`);
  }
}

function expectedShapes(units) {
  return [[units, OUTPUT_WIDTH], [OUTPUT_WIDTH], [5, 4 * units], [units, 4 * units], [4 * units]];
}

function checkShapes(shapes, where) {
  if (shapes.length === 17) {
    throw new Error(`${where}: 17 tensors is the VAE layout; only decoder-only files (5 tensors) can be run`);
  }
  const units = Array.isArray(shapes[0]) ? shapes[0][0] : undefined;
  const ok = Number.isInteger(units) && units > 0 &&
      JSON.stringify(shapes) === JSON.stringify(expectedShapes(units));
  if (!ok) {
    throw new Error(`${where}: shapes ${JSON.stringify(shapes)} are not the decoder-only layout ` +
                    `[[H, ${OUTPUT_WIDTH}], [${OUTPUT_WIDTH}], [5, 4H], [H, 4H], [4H]]`);
  }
  return units;
}

function base64Bytes(text, index, where) {
  if (typeof text !== 'string') throw new Error(`${where}: weights[${index}] is not a base64 string`);
  let binary;
  try {
    binary = atob(text);
  } catch (e) {
    throw new Error(`${where}: weights[${index}] is not valid base64`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// One tensor: base64 int16 -> Float32Array, w = 10 q / 32767 computed in doubles.
function decodeTensor(text, shape, index, where) {
  const bytes = base64Bytes(text, index, where);
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== 2 * count) {
    throw new Error(`${where}: weights[${index}] holds ${bytes.length} bytes, but shape ` +
                    `${JSON.stringify(shape)} needs ${2 * count} (int16)`);
  }
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = MAX_WEIGHT * view.getInt16(2 * i, true) / QUANT_MAX;
  return out;
}

// The parsed document -> {info, units, outW, outB, wxh, whh, bias} (row-major Float32Arrays).
export function parseGenJson(doc, where) {
  if (!looksLikeGenJson(doc)) {
    throw new Error(`${where}: not a .gen.json file (expected a 3-element array [info, shapes, weights])`);
  }
  const [info, shapes, weights] = doc;
  checkInfo(info, where);
  const units = checkShapes(shapes, where);
  if (!Array.isArray(weights) || weights.length !== shapes.length) {
    throw new Error(`${where}: the third element (weights) must be a list of ${shapes.length} base64 strings`);
  }
  const [outW, outB, wxh, whh, bias] = weights.map((w, i) => decodeTensor(w, shapes[i], i, where));
  return {info, units, outW, outB, wxh, whh, bias};
}
