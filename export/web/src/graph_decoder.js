// Our TF.js export (sketch_rnn_tf/export/tfjs.py: manifest.json + one converted graph per
// signature) run with TF.js: decode_step one step at a time, initial_state and encode.
//
// States and parameters cross the API as Float32Arrays (read back every step anyway, to
// sample in JavaScript), so no tensor outlives a call: nothing for the caller to dispose.

import {readBytes, parseJson, resolve} from './io.js';

export const EXPORT_FORMAT = 'sketch-rnn-tfjs';
const KNOWN_EXPORT_FORMATS = [1];

export function looksLikeManifest(doc) {
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && doc.format === EXPORT_FORMAT;
}

export function checkManifest(manifest, where) {
  if (!KNOWN_EXPORT_FORMATS.includes(manifest.export_format)) {
    throw new Error(`${where}: export_format ${JSON.stringify(manifest.export_format)} is not one ` +
                    `this library runs (known: ${KNOWN_EXPORT_FORMATS.join(', ')}): update sketch-rnn-tf`);
  }
  const graphs = manifest.graphs || {};
  const missing = ['decode_step', ...(manifest.conditional ? ['initial_state', 'encode'] : [])]
      .filter(g => !graphs[g]);
  if (missing.length) throw new Error(`${where}: the manifest lists no ${missing.join(', ')} graph`);
  const layout = manifest.params_layout;
  if (!layout || !Number.isInteger(manifest.num_mixture) || !Array.isArray(manifest.state_sizes)) {
    throw new Error(`${where}: the manifest lacks params_layout, num_mixture or state_sizes`);
  }
}

// The TF.js module: the one given, the page's global `tf` (tf.min.js), or the npm package.
export async function getTf(given) {
  if (given) return given;
  if (typeof globalThis.tf === 'object' && globalThis.tf && globalThis.tf.loadGraphModel) {
    return globalThis.tf;
  }
  try {
    return await import('@tensorflow/tfjs');
  } catch (e) {
    throw new Error('running a TF.js export needs @tensorflow/tfjs: install it (npm), load ' +
                    'tf.min.js before this module, or pass {tf} to load()');
  }
}

// Registers the wasm backend if it can be found; false if not.
async function ensureWasm(tf, wasmPaths) {
  if (!tf.findBackendFactory('wasm')) {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
    } catch (e) {
      return false;
    }
  }
  if (!tf.findBackendFactory('wasm')) return false;  // a second TF.js copy got it
  if (wasmPaths && tf.wasm && tf.wasm.setWasmPaths) tf.wasm.setWasmPaths(wasmPaths);
  return true;
}

export async function setBackend(tf, name, wasmPaths) {
  if (name === 'wasm' && !(await ensureWasm(tf, wasmPaths))) {
    throw new Error('the TF.js wasm backend is not available (install @tensorflow/tfjs-backend-wasm ' +
                    'or load tf-backend-wasm.min.js)');
  }
  if (!tf.findBackendFactory(name) && !tf.engine().registryFactory[name]) {
    throw new Error(`TF.js has no backend named ${JSON.stringify(name)}`);
  }
  let ok;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (e) {
    ok = false;
  }
  if (!ok || tf.getBackend() !== name) throw new Error(`the TF.js ${name} backend failed to start here`);
}

const BIAS_ADD = 'Qmlhc0FkZA==';  // base64 of "BiasAdd", as graph attrs store strings

// TF.js 4.22's wasm FusedMatMul adds the bias wrongly to every row of a batch but the first.
// The converter fuses MatMul + BiasAdd (the LSTM gates, the MDN head), so for that backend
// each such node is split back into MatMul and BiasAdd, which the wasm backend runs right
// (and the load-time self-check confirms). Nodes with a fused activation are left alone.
export function unfuseBiasAdd(topology) {
  const split = nodes => {
    const out = [];
    for (const node of nodes || []) {
      const ops = node.attr && node.attr.fused_ops && node.attr.fused_ops.list &&
          node.attr.fused_ops.list.s;
      const ok = node.op === '_FusedMatMul' && ops && ops.length === 1 && ops[0] === BIAS_ADD &&
          node.input.length >= 3;
      if (!ok) { out.push(node); continue; }
      const {transpose_a: ta, transpose_b: tb, T} = node.attr;
      const matmul = `${node.name}/unfused_matmul`;
      out.push({name: matmul, op: 'MatMul', input: node.input.slice(0, 2), device: node.device,
                attr: {transpose_a: ta || {b: false}, transpose_b: tb || {b: false}, T}});
      out.push({name: node.name, op: 'BiasAdd', input: [matmul, node.input[2],
                                                        ...node.input.slice(3).filter(i => i.startsWith('^'))],
                device: node.device, attr: {T}});
    }
    return out;
  };
  const copy = {...topology, node: split(topology.node)};
  if (topology.library && topology.library.function) {
    copy.library = {...topology.library, function: topology.library.function.map(
        f => ({...f, nodeDef: split(f.nodeDef)}))};
  }
  return copy;
}

async function loadGraph(tf, rel, manifestSource, options) {
  const where = resolve(rel, manifestSource);
  const modelJson = parseJson(await readBytes(where, options), where);
  if (!modelJson || !modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${where}: not a TF.js graph model (no modelTopology / weightsManifest)`);
  }
  const specs = [];
  const parts = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(await readBytes(resolve(p, where), options));
  }
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { weightData.set(p, at); at += p.length; }
  const artifacts = {
    modelTopology: options.unfuseBiasAdd ? unfuseBiasAdd(modelJson.modelTopology) :
        modelJson.modelTopology,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy, convertedBy: modelJson.convertedBy,
    signature: modelJson.signature, userDefinedMetadata: modelJson.userDefinedMetadata,
    weightSpecs: specs, weightData: weightData.buffer,
  };
  try {
    return await tf.loadGraphModel({load: async () => artifacts});
  } catch (e) {
    throw new Error(`${where}: TF.js ${tf.version_core || ''} cannot load this graph: ${e.message}`);
  }
}

export class GraphDecoder {
  constructor(tf, manifest, graphs) {
    this.tf = tf;
    this.manifest = manifest;
    this.graphs = graphs;
    this.scale = manifest.scale_factor;
    this.numMixture = manifest.num_mixture;
    this.width = 3 + 6 * manifest.num_mixture;
    this.stateSize = manifest.state_sizes.reduce((a, b) => a + b, 0);
    this.zSize = manifest.conditional ? manifest.z_size : 0;
    this.numClasses = manifest.num_classes || 0;
    const outputs = manifest.graphs.decode_step.outputs;
    this.stepNodes = [outputs.params.node, outputs.state.node];
    // decode_step's `params` columns -> the order the sampler reads (PARAMS_ORDER).
    this.columns = [];
    for (const name of ['pen_logits', 'pi_logits', 'mu_x', 'mu_y', 'sigma_x', 'sigma_y', 'rho']) {
      const [start, end] = manifest.params_layout[name];
      for (let k = start; k < end; k++) this.columns.push(k);
    }
    this.identityLayout = this.columns.every((c, k) => c === k);
  }

  static async load(tf, manifest, manifestSource, options) {
    const graphs = {};
    const names = ['decode_step', 'initial_state', 'encode'].filter(n => manifest.graphs[n]);
    for (const name of names) {
      graphs[name] = await loadGraph(tf, manifest.graphs[name].path, manifestSource, options);
    }
    return new GraphDecoder(tf, manifest, graphs);
  }

  feed(graph, values) {
    const inputs = this.manifest.graphs[graph].inputs;
    const out = {};
    for (const [name, value] of Object.entries(values)) {
      if (value !== null && value !== undefined && inputs[name]) out[inputs[name].node] = value;
    }
    return out;
  }

  condTensors(cond, batch) {
    const tf = this.tf;
    return {
      z: this.zSize ? tf.tensor2d(cond.z, [batch, this.zSize], 'float32') : null,
      labels: this.numClasses ? tf.tensor1d(cond.labels, 'int32') : null,
    };
  }

  // The decoder's state before the first step: from z for conditional models, else zero.
  zeroState(batch, cond) {
    if (!this.graphs.initial_state) return new Float32Array(batch * this.stateSize);
    const tf = this.tf;
    const node = this.manifest.graphs.initial_state.outputs.state.node;
    const state = tf.tidy(() => this.graphs.initial_state.execute(
        this.feed('initial_state', this.condTensors(cond, batch)), node));
    const data = state.dataSync().slice();
    state.dispose();
    return data;
  }

  head() {
    return null;  // the export has no head-only graph: a state's parameters come from step()
  }

  // prev [B * 5] data pixels, state [B * S] -> {params [B * width] in sampler order, state}.
  step(prev, state, batch, cond) {
    const tf = this.tf;
    const [params, next] = tf.tidy(() => this.graphs.decode_step.execute(this.feed('decode_step', {
      prev: tf.tensor2d(prev, [batch, 5], 'float32'),
      state: tf.tensor2d(state, [batch, this.stateSize], 'float32'),
      ...this.condTensors(cond, batch),
    }), this.stepNodes));
    let p = params.dataSync();
    const s = next.dataSync().slice();
    params.dispose();
    next.dispose();
    if (this.identityLayout) {
      p = p.slice();
    } else {
      const out = new Float32Array(p.length);
      for (let b = 0; b < batch; b++) {
        for (let k = 0; k < this.width; k++) out[b * this.width + k] = p[b * this.width + this.columns[k]];
      }
      p = out;
    }
    return {params: p, state: s};
  }

  // strokes [B * T * 5] data pixels (no start token), lengths [B] -> {mu, presig} [B * Nz].
  async encode(strokes, lengths, batch, steps) {
    const tf = this.tf;
    const g = this.manifest.graphs.encode;
    const feed = this.feed('encode', {
      strokes: tf.tensor3d(strokes, [batch, steps, 5], 'float32'),
      lengths: tf.tensor1d(lengths, 'int32'),
    });
    let outs;
    try {
      outs = await this.graphs.encode.executeAsync(feed, [g.outputs.mu.node, g.outputs.presig.node]);
      return {mu: outs[0].dataSync().slice(), presig: outs[1].dataSync().slice()};
    } finally {
      tf.dispose(Object.values(feed));
      if (outs) tf.dispose(outs);
    }
  }

  dispose() {
    for (const g of Object.values(this.graphs)) g.dispose();
    this.graphs = {};
  }
}
