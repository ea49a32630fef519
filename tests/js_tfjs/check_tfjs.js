// Runs converted Sketch-RNN graphs in Node with pure @tensorflow/tfjs 4.22 (CPU backend),
// for tests/test_tfjs.py: the graphs as the sketch-rnn-tf library (export/web/src) loads
// them, and the library's own per-step sampling loop.
//
//   node check_tfjs.js <export/web dir> <request.json> > result.json
//
// request.json: {"tfjs_dir": ..., "decode_step": {prev, state, z?, labels?},
//                "sample": {temperature, noise, z?, labels?}, "encode"?: {strokes, lengths}}
// (with "encode" alone, only encode runs)
// result.json: {"decode_step": {output name: nested array}, "sample_graph": {strokes,
//   lengths}, "sample_js": {points, lengths}, "backend": ..., "ms": {...}}
'use strict';
const fs = require('fs');
const path = require('path');
const {createRequire} = require('module');
const {pathToFileURL} = require('url');

const [webDir, requestPath] = process.argv.slice(2);
const requireWeb = createRequire(path.join(path.resolve(webDir), 'package.json'));
const tf = requireWeb('@tensorflow/tfjs');

// The converted whole loop (`sample`), which the library does not load: a GraphModel from
// files (pure tfjs has no file:// handler; tfjs-node has one).
async function loadSampleGraph(dir, manifest) {
  const jsonPath = path.join(dir, manifest.graphs.sample.path);
  const modelJson = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
  }
  const all = Buffer.concat(buffers);
  return tf.loadGraphModel({load: async () => ({
    modelTopology: modelJson.modelTopology, format: modelJson.format,
    generatedBy: modelJson.generatedBy, convertedBy: modelJson.convertedBy,
    signature: modelJson.signature, userDefinedMetadata: modelJson.userDefinedMetadata,
    weightSpecs: specs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  })});
}

// The whole loop in the converted graph (executeAsync): temperature [B], noise [T][B][4]
// -> {strokes: [B][T][5] px (end rows after the end), lengths}.
async function sampleGraph(graph, engine, {temperature, noise, z = null, labels = null}) {
  const batch = temperature.length;
  const g = engine.manifest.graphs.sample;
  const feed = engine.feed('sample', {
    temperature: tf.tensor1d(temperature, 'float32'),
    noise: tf.tensor3d(noise, [noise.length, batch, 4], 'float32'),
    z: z ? tf.tensor2d(z, [batch, engine.zSize], 'float32') : null,
    labels: labels ? tf.tensor1d(labels, 'int32') : null,
  });
  try {
    const outs = await graph.executeAsync(feed, [g.outputs.strokes.node, g.outputs.lengths.node]);
    const result = {strokes: await outs[0].array(), lengths: await outs[1].array()};
    tf.dispose(outs);
    return result;
  } finally {
    tf.dispose(Object.values(feed));
  }
}

async function main() {
  // ES modules: imported, not required.
  const src = rel => pathToFileURL(path.join(path.resolve(webDir), 'src', rel)).href;
  const {SketchRNN} = await import(src('index.js'));
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  const manifestPath = path.join(request.tfjs_dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  // Data pixels in and out (pixel factor 1), on the CPU backend (the load-time check runs).
  const library = await SketchRNN.load(manifestPath, {tf, backend: 'tfjs-cpu', pixelFactor: 1});
  const model = library.engine;  // the GraphDecoder: the graphs and their feeds
  const result = {backend: tf.getBackend(), ms: {}};

  let t0;
  if (request.decode_step) {
    // decode_step on given inputs.
    const d = request.decode_step;
    const g = manifest.graphs.decode_step;
    const names = Object.keys(g.outputs).sort();
    const feed = model.feed('decode_step', {
      prev: tf.tensor(d.prev, null, 'float32'), state: tf.tensor(d.state, null, 'float32'),
      z: d.z ? tf.tensor(d.z, null, 'float32') : null,
      labels: d.labels ? tf.tensor(d.labels, null, 'int32') : null,
    });
    t0 = Date.now();
    const outs = model.graphs.decode_step.execute(feed, names.map(n => g.outputs[n].node));
    result.ms.decode_step = Date.now() - t0;
    result.decode_step = {};
    names.forEach((n, k) => { result.decode_step[n] = outs[k].arraySync(); });
  }

  // encode (conditional models): strokes in px [B, T, 5] and lengths -> mu, presig.
  if (request.encode) {
    const e = manifest.graphs.encode;
    const eNames = Object.keys(e.outputs).sort();
    const eFeed = model.feed('encode', {strokes: tf.tensor(request.encode.strokes, null, 'float32'),
                                        lengths: tf.tensor(request.encode.lengths, null, 'int32')});
    t0 = Date.now();
    const eOuts = await model.graphs.encode.executeAsync(eFeed, eNames.map(n => e.outputs[n].node));
    result.ms.encode = Date.now() - t0;
    result.encode = {};
    eNames.forEach((n, k) => { result.encode[n] = eOuts[k].arraySync(); });
    tf.dispose(eOuts);
    if (!request.decode_step) { process.stdout.write(JSON.stringify(result)); return; }
  }

  // The converted loop, and the same noise through the library's per-step loop.
  const s = request.sample;
  t0 = Date.now();
  try {  // reported, not fatal: the per-step loop below is checked either way
    result.sample_graph = await sampleGraph(await loadSampleGraph(request.tfjs_dir, manifest),
                                            model, s);
  } catch (e) {
    result.sample_graph = {error: String(e && e.message || e)};
  }
  result.ms.sample_graph = Date.now() - t0;
  t0 = Date.now();
  const points = await library.generate({n: s.temperature.length, temperature: s.temperature[0],
                                         maxLen: s.noise.length, noise: s.noise,
                                         z: s.z || undefined, labels: s.labels || undefined});
  result.sample_js = {points, lengths: points.map(p => p.length)};
  result.ms.sample_js = Date.now() - t0;
  library.dispose();
  process.stdout.write(JSON.stringify(result));
}

main().catch(e => { console.error(e.stack || String(e)); process.exit(1); });
