// Drives the packed sketch-rnn-tf library in Node for tests/export/test_web_library.py.
//
//   node check_library.mjs <request.json> <result.json>
//
// Run from a project where `sketch-rnn-tf` is installed (the test copies this file there).
// request.json: {"tasks": [{"kind": ..., ...}, ...]}; result.json: one result per task, an
// {"error": message} where a task threw. Units: pixelFactor 1 (the data's pixels), as
// sketch_rnn_tf's Python sampler.
import fs from 'node:fs';
import {SketchRNN, simplify, linesToStroke5, stroke5ToLines} from 'sketch-rnn-tf';

const [requestPath, resultPath] = process.argv.slice(2);
const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
const models = new Map();

async function model(task) {
  const key = `${task.source} ${task.backend || 'auto'}`;
  if (!models.has(key)) {
    models.set(key, await SketchRNN.load(task.source, {pixelFactor: 1, backend: task.backend}));
  }
  return models.get(key);
}

const finite = sketches => sketches.every(s => s.every(r => r.every(Number.isFinite)));

const tasks = {
  // The @magenta/sketch surface, teacher-forced: getPDF after each input, the raw step
  // parameters (data pixels) and states.
  async steps(t) {
    const m = await model(t);
    let state = m.zeroState(t.z || null);
    const out = {backend: m.backend, initial_state: Array.from(state.data), pdf: [], params: [],
                 states: []};
    for (const input of t.inputs) {
      state = m.update(input, state);
      const pdf = m.getPDF(state, t.temperature ?? 1, t.temperature ?? 1);
      out.pdf.push(Object.fromEntries(Object.entries(pdf).map(([k, v]) => [k, Array.from(v)])));
      out.params.push(Array.from(state.params));
      out.states.push(Array.from(state.data));
    }
    return out;
  },

  async generate(t) {
    const m = await model(t);
    const sketches = await m.generate({n: t.noise[0].length, noise: t.noise, z: t.z,
                                       labels: t.labels, temperature: t.temperature,
                                       maxLen: t.noise.length});
    return {backend: m.backend, notes: m.backendNotes || [], sketches};
  },

  async encode(t) {
    const m = await model(t);
    return {z: await m.encode(t.drawings)};
  },

  async reconstruct(t) {
    const m = await model(t);
    const z = await m.encode(t.drawing);
    const sketches = await m.reconstruct(t.drawing, {n: t.noise[0].length, noise: t.noise,
                                                      temperature: t.temperature,
                                                      maxLen: t.noise.length});
    return {z, sketches};
  },

  async simplify(t) {
    return {lines: simplify(t.lines, t.epsilon)};
  },

  // Everything else of the API once, checked for shape and finiteness here and in Python.
  async api(t) {
    const m = await model(t);
    const out = {backend: m.backend, info: m.info};
    // The user's strokes -> rows -> strokes again (the pen down from the first point).
    const lines = [[[10, 10], [20, 15], [30, 12]], [[40, 40]], [[5, 50], [6, 60]]];
    const back = stroke5ToLines(linesToStroke5(lines), {origin: lines[0][0], penDown: true});
    out.lines_round_trip = JSON.stringify(back) === JSON.stringify(lines);
    const gen = await m.generate({n: 4, seed: 7, temperature: 0.5, maxLen: 60});
    out.generate = {n: gen.length, lengths: gen.map(s => s.length), finite: finite(gen)};
    const again = await m.generate({n: 4, seed: 7, temperature: 0.5, maxLen: 60});
    out.seed_reproduces = JSON.stringify(again) === JSON.stringify(gen);
    const drawing = t.drawing;
    const endings = await m.complete(drawing, {n: 3, seed: 2, temperature: 0.4, maxLen: 80});
    out.complete = {n: endings.length, lengths: endings.map(s => s.length), finite: finite(endings)};
    const streamed = [[], []];
    for await (const {index, point} of m.stream({n: 2, seed: 7, temperature: 0.5, maxLen: 60})) {
      if (point) streamed[index].push(point);
    }
    const batch2 = await m.generate({n: 2, seed: 7, temperature: 0.5, maxLen: 60});
    out.stream_matches_generate = JSON.stringify(streamed) === JSON.stringify(batch2);
    // The magenta loop: update / getPDF / sample from the zero state.
    m.setSeed(3);
    let state = m.zeroState(), x = m.zeroInput(), points = 0;
    for (let k = 0; k < 30 && x[4] !== 1; k++) {
      state = m.update(x, state);
      x = m.sample(m.getPDF(state, 0.5));
      points += 1;
    }
    out.magenta_loop = {points, finite: x.every(Number.isFinite)};
    // The rest of @magenta/sketch's surface.
    const strokes = drawing.slice(0, 5);
    let one = m.zeroState();
    for (const s of strokes) one = m.update(s, one);
    const all = m.updateStrokes(strokes, m.zeroState());
    out.magenta_extra = {
      initialized: m.isInitialized(), units: m.numUnits, scale: m.scaleFactor,
      max_seq_len: m.info.max_seq_len, h: all.h.length, c: all.c.length,
      update_strokes_matches: JSON.stringify(Array.from(all.data)) === JSON.stringify(Array.from(one.data)),
      copy_is_equal: JSON.stringify(Array.from(m.copyState(all).h)) === JSON.stringify(Array.from(all.h)),
    };
    if (m.info.conditional) {
      const z = await m.encode(drawing);
      const [za, zb] = [z, z.map(v => -v)];
      for (const method of ['slerp', 'linear']) {
        const r = await m.interpolate(za, zb, {steps: 5, method, seed: 1, temperature: 0.3, maxLen: 40});
        out[`interpolate_${method}`] = {z: r.z, n: r.sketches.length, finite: finite(r.sketches)};
      }
      const fromDrawings = await m.interpolate(drawing, drawing.slice(0, 3), {steps: 3, seed: 1, maxLen: 40});
      out.interpolate_drawings = fromDrawings.sketches.length;
      const decoded = await m.decode([za, zb], {seed: 1, maxLen: 40});
      out.decode = decoded.length;
      out.za = za;
      // Stroke-3 rows [dx, dy, lift] mean the same drawing as stroke-5 ones.
      const z3 = await m.encode(drawing.map(r => [r[0], r[1], r[3]]));
      out.stroke3_same_code = JSON.stringify(z3) === JSON.stringify(za);
    } else {
      for (const what of ['encode', 'interpolate', 'decode']) {
        try {
          await (what === 'encode' ? m.encode(drawing) : what === 'decode' ? m.decode([0]) :
                 m.interpolate([0], [1]));
          out[`${what}_error`] = null;
        } catch (e) {
          out[`${what}_error`] = e.message;
        }
      }
    }
    return out;
  },

  // TF.js tensors before and after `count` sketches (and encodings, where there is an encoder).
  async memory(t) {
    const m = await model(t);
    const tf = await import('@tensorflow/tfjs');
    await m.generate({seed: 0, maxLen: 5});
    const before = tf.memory().numTensors;
    let points = 0;
    for (let k = 0; k < t.count; k++) {
      points += (await m.generate({seed: k, maxLen: t.maxLen, temperature: 0.6}))[0].length;
      if (m.info.conditional && k % 10 === 0) await m.reconstruct(t.drawing, {seed: k, maxLen: 10});
    }
    return {before, after: tf.memory().numTensors, points, backend: m.backend};
  },

  // A load that must fail: the message, and how long it took to say so.
  async load(t) {
    const t0 = Date.now();
    try {
      const m = await SketchRNN.load(t.source, t.options || {});
      return {error: null, backend: m.backend, ms: Date.now() - t0};
    } catch (e) {
      return {error: e instanceof Error ? e.message : `not an Error: ${e}`, ms: Date.now() - t0};
    }
  },
};

const results = [];
for (const task of request.tasks) {
  try {
    results.push(await tasks[task.kind](task));
  } catch (e) {
    results.push({error: String(e && e.stack || e)});
  }
}
fs.writeFileSync(resultPath, JSON.stringify(results));
