// Runs converted Sketch-RNN graphs in Node with pure @tensorflow/tfjs 4.22 (CPU backend),
// for tests/test_tfjs.py.
//
//   node check_tfjs.js <node_modules parent dir> <request.json> > result.json
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

// A GraphModel from files: pure tfjs has no file:// handler (tfjs-node has one).
function loadFromFiles(dir) {
  return rel => {
    const jsonPath = path.join(dir, rel);
    const modelJson = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
    const handler = {
      load: async () => {
        const specs = [];
        const buffers = [];
        for (const group of modelJson.weightsManifest) {
          specs.push(...group.weights);
          for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
        }
        const all = Buffer.concat(buffers);
        return {
          modelTopology: modelJson.modelTopology, format: modelJson.format,
          generatedBy: modelJson.generatedBy, convertedBy: modelJson.convertedBy,
          signature: modelJson.signature, userDefinedMetadata: modelJson.userDefinedMetadata,
          weightSpecs: specs,
          weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        };
      },
    };
    return tf.loadGraphModel(handler);
  };
}

async function main() {
  // An ES module (it shares the library's sampling helpers): imported, not required.
  const SketchModel = (await import(
      pathToFileURL(path.join(path.resolve(webDir), 'sketch_model.mjs')).href)).default;
  await tf.setBackend('cpu');
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(request.tfjs_dir, 'manifest.json'), 'utf8'));
  const model = await SketchModel.load(tf, manifest, loadFromFiles(request.tfjs_dir));
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

  // The converted loop, and the same noise through the per-step JS loop.
  const s = request.sample;
  t0 = Date.now();
  try {  // reported, not fatal: the per-step loop below is checked either way
    result.sample_graph = await model.sampleGraph(s.temperature, s.noise, s.z || null,
                                                  s.labels || null);
  } catch (e) {
    result.sample_graph = {error: String(e && e.message || e)};
  }
  result.ms.sample_graph = Date.now() - t0;
  t0 = Date.now();
  const batch = s.temperature.length;
  const st = model.start(batch, s.z || null, s.labels || null);
  result.sample_js = model.continue(st, {temperature: s.temperature[0], maxLen: s.noise.length,
                                         noise: s.noise});
  result.ms.sample_js = Date.now() - t0;
  model.dispose(st);
  process.stdout.write(JSON.stringify(result));
}

main().catch(e => { console.error(e.stack || String(e)); process.exit(1); });
