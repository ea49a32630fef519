// The demo page: the original sketch-rnn-js demos on one page, on the sketch-rnn-tf library
// (src/): finish the user's drawing (simple/multi/interactive_predict) with the strokes
// simplified on mouse-up (simplify_lines), endless drawing (basic_predict), auto-encode
// (multi_vae), interpolation (interp), random codes at several temperatures (basic_vae).
// All sampling is the library's; this file wires controls, canvases and files.
//
// Query parameters: ?model=URL of a manifest.json (or its directory) or of a .gen.json
// (default: the first model serve.py lists in models.json, else model/),
// ?backend=auto|wasm-simd|js|tfjs-wasm|tfjs-cpu|tfjs-webgl (default auto: the fastest that
// works here; the page shows it), ?units=data pixels per canvas pixel (the library's pixel
// factor; default: see PAD_PX_PER_UNIT),
// ?endless=0 to start with the endless drawing stopped, ?seed= and ?temperature= to set
// those controls.
// The page's state is kept in window.demoState for tests.
import {SketchRNN, linesToStroke5, simplify, stroke5ToLines} from './src/index.js';
import {inkPixels, linesToSvg, showLines} from './sketch_view.js';

// Endings of the user's drawing: how many -> canvas size, so the grid stays beside the pad.
const ENDING_SIZES = {4: 150, 6: 100, 9: 100};
const NUM_VARIATIONS = 6;
const INTERP_STEPS = 8;
const GALLERY_CODES = 2;
const GALLERY_TEMPERATURES = [0.1, 0.4, 0.7, 1.0];
const ENDLESS_PAUSE_MS = 800;   // a finished drawing stays this long before the next begins
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const INK = '#111';
// Canvas pixels per normalised unit (one standard deviation of the training offsets), the
// default pixel factor being scale_factor / this. A drawing spans about 13 units whatever its
// data set (published sheep: ~800 data px at scale 63; aaron_sheep: ~240 px at 18.5), so
// every model draws at about 200 px, the size people draw on the 320 px pad. A fixed factor
// (the library's 2.0) would make a published sheep 400 px and a user's sheep its head.
const PAD_PX_PER_UNIT = 15;
// Published decoders of @magenta/sketch (a few of ~100 categories; any other is typed).
const PUBLISHED = 'https://storage.googleapis.com/quickdraw-models/sketchRNN/large_models/';
const PUBLISHED_NAMES = ['cat', 'sheep', 'bird', 'pig', 'owl', 'flamingo', 'butterfly',
                         'bicycle', 'rabbit', 'crab', 'elephant', 'the_mona_lisa'];

const params = new URLSearchParams(location.search);
const $ = id => document.getElementById(id);
const demo = window.demoState = {
  ready: false, error: null, backend: null, info: null, source: null, pixelFactor: null, runs: 0,
  counts: {}, simplified: null, completions: null, endless: [], endlessPoints: 0,
  variations: null, interpolation: null, slots: {a: null, b: null}, gallery: null,
  saved: null,
};
let model = null;

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

const nextFrame = () => new Promise(r => requestAnimationFrame(() => r()));
const sleep = ms => new Promise(r => setTimeout(r, ms));
const allFinite = rows => rows.every(r => Array.from(r).every(Number.isFinite));

function controls() {
  const label = model && model.info.numClasses ? [parseInt($('label').value, 10)] : undefined;
  return {temperature: parseFloat($('temperature').value),
          seed: parseInt($('seed').value, 10) || 0, labels: label};
}

// ---- sketches on canvases ------------------------------------------------------------------

// Stroke-5 rows (screen pixels) as polylines; a sample's first row only moves the pen.
function sampleLines(rows, color, origin = [0, 0]) {
  return stroke5ToLines(rows, {origin}).map(points => ({points, color}));
}

function endOf(rows) {
  return rows.reduce(([x, y], r) => [x + r[0], y + r[1]], [0, 0]);
}

function canvases(container, n, size, captions = null) {
  container.innerHTML = '';
  return Array.from({length: n}, (_, i) => {
    const cv = document.createElement('canvas');
    cv.width = cv.height = size;
    cv.className = 'sketch';
    if (captions) {
      const fig = document.createElement('figure');
      const cap = document.createElement('figcaption');
      cap.textContent = captions[i];
      fig.append(cv, cap);
      container.appendChild(fig);
    } else {
      container.appendChild(cv);
    }
    return cv;
  });
}

function summary(rows, canvas, segments) {
  return {length: rows.length, finite: allFinite(rows), lines: segments, ink: inkPixels(canvas),
          rows};
}

// ---- the drawing pad: raw strokes, simplified on mouse-up ---------------------------------

const pad = $('pad');
let rawStrokes = [];    // [[x, y], ...] canvas px, as the pointer moved
let padLines = [];      // the same, simplified (RDP): what the model reads
let drawing = false;

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}

// The raw strokes faint and wide, the simplified ones over them with their kept points.
function redrawPad() {
  const c = pad.getContext('2d');
  c.fillStyle = '#fff';
  c.fillRect(0, 0, pad.width, pad.height);
  c.lineCap = c.lineJoin = 'round';
  const path = (line, color, width) => {
    c.strokeStyle = color;
    c.lineWidth = width;
    c.beginPath();
    line.forEach(([x, y], i) => (i ? c.lineTo(x, y) : c.moveTo(x, y)));
    if (line.length === 1) c.lineTo(line[0][0] + 0.1, line[0][1]);
    c.stroke();
  };
  const done = drawing ? rawStrokes.length - 1 : rawStrokes.length;
  for (let k = 0; k < done; k++) path(rawStrokes[k], '#c8d8f0', 6);
  for (let k = 0; k < Math.min(done, padLines.length); k++) {
    path(padLines[k], INK, 2);
    c.fillStyle = '#d62728';
    for (const [x, y] of padLines[k]) c.fillRect(x - 1.5, y - 1.5, 3, 3);
  }
  if (drawing) path(rawStrokes[rawStrokes.length - 1], INK, 2);
  pad.sketchLines = padLines.map(points => ({points, color: INK}));
}

function resimplify() {
  const epsilon = Math.max(0, parseFloat($('epsilon').value) || 0);
  padLines = simplify(rawStrokes, epsilon);
  const raw = rawStrokes.reduce((n, s) => n + s.length, 0);
  const kept = padLines.reduce((n, s) => n + s.length, 0);
  demo.simplified = {epsilon, raw: rawStrokes.map(s => s.map(p => p.slice())), lines: padLines,
                     rawPoints: raw, points: kept};
  $('simplify-info').textContent = raw ? `${raw} points drawn, ${kept} kept` : '';
}

// The pad's drawing as stroke-5 rows in canvas pixels (the library's screen pixels).
function padRows() {
  return linesToStroke5(padLines);
}

pad.addEventListener('pointerdown', e => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  drawing = true;
  rawStrokes.push([padPoint(e)]);
  redrawPad();
});
pad.addEventListener('pointermove', e => {
  if (!drawing) return;
  const p = padPoint(e), s = rawStrokes[rawStrokes.length - 1], last = s[s.length - 1];
  if (p[0] !== last[0] || p[1] !== last[1]) {
    s.push(p);
    redrawPad();
  }
});
// Strokes drawn while endings are computed ask for one redraw, not one each: it reads the
// pad when it starts, so it covers them all.
let liveQueued = false;
function endStroke() {
  if (!drawing) return;
  drawing = false;
  resimplify();
  redrawPad();
  if (!$('live').checked || !model || liveQueued) return;
  liveQueued = true;
  act('finish', () => { liveQueued = false; return finish(); });
}
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);
$('epsilon').addEventListener('change', () => { resimplify(); redrawPad(); });

// ---- actions: one at a time, in the order asked for ----------------------------------------

let queue = Promise.resolve();
function act(name, action) {
  if (!model) return queue;
  queue = queue.then(async () => {
    try {
      await action();
      demo.counts[name] = (demo.counts[name] || 0) + 1;
      demo.runs += 1;
    } catch (err) {
      demo.error = String(err && err.message || err);
      status(`${name}: ${demo.error}`, true);
    }
  });
  return queue;
}

async function finish() {
  const rows = padRows();
  if (!rows.length) { status('draw something on the pad first'); return; }
  const {temperature, seed, labels} = controls();
  const n = parseInt($('num-endings').value, 10);
  const t0 = performance.now();
  const endings = await model.complete(rows, {n, temperature, seed, labels});
  const ms = performance.now() - t0;
  const views = canvases($('completions'), n, ENDING_SIZES[n]);
  const start = padLines.map(points => ({points, color: INK}));
  const from = endOf(rows).map((v, i) => v + padLines[0][0][i]);
  demo.completions = endings.map((points, b) => {
    const color = COLORS[b % COLORS.length];
    return summary(points, views[b],
                   showLines(views[b], [...start, ...sampleLines(points, color, from)]));
  });
  demo.finishInput = {rows, strokes: padLines.length, n, temperature, seed, labels: labels || null,
                      maxLen: model.info.maxSeqLen};
  status(`${n} endings in ${ms.toFixed(0)} ms (${model.backend})`);
}

async function autoencode() {
  const rows = padRows();
  if (!rows.length) { status('draw something on the pad first'); return; }
  const {temperature, seed, labels} = controls();
  const z = await model.encode(rows);  // shown, so encoded once here (not by reconstruct)
  const sketches = await model.generate({n: NUM_VARIATIONS, z, temperature, seed, labels});
  const views = canvases($('variations'), NUM_VARIATIONS + 1, 110,
                         ['your drawing', ...sketches.map((_, i) => `variation ${i + 1}`)]);
  showLines(views[0], padLines.map(points => ({points, color: INK})));
  demo.variations = {z, temperature, seed, labels: labels || null, input: rows,
                     sketches: sketches.map((s, i) => summary(s, views[i + 1],
                         showLines(views[i + 1], sampleLines(s, COLORS[i % COLORS.length]))))};
  status(`encoded your drawing (|z| = ${Math.hypot(...z).toFixed(2)}) and decoded it ` +
         `${NUM_VARIATIONS} times at temperature ${temperature}`);
}

async function fillSlot(slot, fromPad) {
  const {temperature, seed, labels} = controls();
  let rows;
  if (fromPad) {
    rows = padRows();
    if (!rows.length) { status('draw something on the pad first'); return; }
  } else {
    // A and B differ with the same seed control: B draws from the next seed.
    const s = seed + (slot === 'b' ? 1 : 0);
    [rows] = await model.generate({n: 1, temperature, seed: s, labels});
  }
  demo.slots[slot] = {rows, fromPad};
  const lines = fromPad ? padLines.map(points => ({points, color: INK})) : sampleLines(rows, INK);
  showLines($(`interp-${slot}`), lines);
}

async function interpolate() {
  for (const slot of ['a', 'b']) if (!demo.slots[slot]) await fillSlot(slot, false);
  const {temperature, seed, labels} = controls();
  const method = $('interp-method').value;
  const {z, sketches} = await model.interpolate(demo.slots.a.rows, demo.slots.b.rows,
                                                {steps: INTERP_STEPS, method, temperature, seed,
                                                 labels});
  const views = canvases($('interp'), INTERP_STEPS, 90);
  demo.interpolation = {method, temperature, seed, labels: labels || null, z,
                        a: demo.slots.a.rows, b: demo.slots.b.rows,
                        sketches: sketches.map((s, i) => {
                          const color = `hsl(${Math.round(230 - 230 * i / (INTERP_STEPS - 1))}, 70%, 40%)`;
                          return summary(s, views[i], showLines(views[i], sampleLines(s, color)));
                        })};
  status(`${INTERP_STEPS} drawings along the ${method} path from A to B`);
}

// Rows: codes (or, for a decoder-only model, noise streams); columns: temperatures. The same
// seed gives every column the same codes and the same noise: only the temperature changes.
async function gallery() {
  const {seed, labels} = controls();
  const container = $('gallery');
  container.innerHTML = '';
  const rows = [];
  for (let r = 0; r < GALLERY_CODES; r++) {
    const row = document.createElement('div');
    row.className = 'row';
    container.appendChild(row);
    rows.push(canvases(row, GALLERY_TEMPERATURES.length, 120,
                       GALLERY_TEMPERATURES.map(t => `temperature ${t}`)));
  }
  const items = [];
  for (const [c, temperature] of GALLERY_TEMPERATURES.entries()) {
    const sketches = await model.generate({n: GALLERY_CODES, temperature, seed, labels});
    sketches.forEach((s, r) => {
      const view = rows[r][c];
      items[r * GALLERY_TEMPERATURES.length + c] = {
        code: r, temperature, ...summary(s, view, showLines(view, sampleLines(s, COLORS[r])))};
    });
  }
  demo.gallery = items;
  demo.galleryInput = {seed, labels: labels || null, temperatures: GALLERY_TEMPERATURES,
                       n: GALLERY_CODES, maxLen: model.info.maxSeqLen};
  $('gallery-info').textContent = `seed ${seed}`;
}

// ---- endless drawing, point by point -------------------------------------------------------

const endless = {running: false, token: 0};

async function endlessLoop(token) {
  const canvas = $('endless');
  for (let k = 0; endless.running && token === endless.token; k++) {
    const {temperature, seed, labels} = controls();
    const points = [];
    $('endless-info').textContent = `drawing ${k + 1} (seed ${seed + k})`;
    let segments = showLines(canvas, []);  // blank, also for a drawing that ends at once
    for await (const {point} of model.stream({temperature, seed: seed + k, labels})) {
      if (!endless.running || token !== endless.token) return;
      if (!point) break;
      points.push(point);
      segments = showLines(canvas, sampleLines(points, INK), {maxScale: 1.5});
      demo.endlessPoints += 1;
      await nextFrame();
    }
    demo.endless.push({seed: seed + k, temperature, labels: labels || null,
                       ...summary(points, canvas, segments)});
    demo.endless = demo.endless.slice(-6);
    await sleep(ENDLESS_PAUSE_MS);
  }
}

function setEndless(on) {
  endless.running = on;
  endless.token += 1;
  $('endless-toggle').textContent = on ? 'Stop' : 'Start';
  if (on) {
    const token = endless.token;
    endlessLoop(token).catch(err => {
      demo.error = String(err && err.message || err);
      status(`endless drawing: ${demo.error}`, true);
    });
  }
}

// ---- saving --------------------------------------------------------------------------------

let selected = pad;
document.addEventListener('click', e => {
  const cv = e.target;
  if (!(cv instanceof HTMLCanvasElement) || !cv.classList.contains('sketch') || cv === pad) return;
  select(cv);
});
pad.addEventListener('pointerdown', () => select(pad));

function select(canvas) {
  if (selected) selected.classList.remove('selected');
  selected = canvas;
  canvas.classList.add('selected');
}

function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function saveName(ext) {
  const name = (demo.info && demo.info.name) || 'sketch';
  return `${String(name).replace(/[^\w.-]+/g, '_')}-${selected.id || 'sample'}.${ext}`;
}

$('save-svg').addEventListener('click', () => {
  const lines = selected.sketchLines || [];
  if (!lines.length) { status('nothing to save: draw, or click a sketch first'); return; }
  const svg = linesToSvg(lines);
  demo.saved = {kind: 'svg', bytes: svg.length, lines: lines.length};
  download(new Blob([svg], {type: 'image/svg+xml'}), saveName('svg'));
});
$('save-png').addEventListener('click', () => {
  if (!(selected.sketchLines || []).length) { status('nothing to save: draw, or click a sketch first'); return; }
  selected.toBlob(blob => {
    demo.saved = {kind: 'png', bytes: blob.size};
    download(blob, saveName('png'));
  }, 'image/png');
});

// ---- controls and loading -------------------------------------------------------------------

$('temperature').addEventListener('input', () => {
  $('temperature-value').textContent = parseFloat($('temperature').value).toFixed(2);
});
$('finish').addEventListener('click', () => act('finish', finish));
$('num-endings').addEventListener('change', () => act('finish', finish));
$('label').addEventListener('change', () => act('gallery', gallery));
$('clear').addEventListener('click', () => {
  rawStrokes = [];
  resimplify();
  redrawPad();
  $('completions').innerHTML = '';
});
$('autoencode').addEventListener('click', () => act('autoencode', autoencode));
for (const slot of ['a', 'b']) {
  $(`${slot}-from-pad`).addEventListener('click', () => act('slot', () => fillSlot(slot, true)));
  $(`${slot}-sample`).addEventListener('click', () => act('slot', () => fillSlot(slot, false)));
}
$('interpolate').addEventListener('click', () => act('interpolate', interpolate));
$('sample').addEventListener('click', () => {
  $('seed').value = (parseInt($('seed').value, 10) || 0) + 1;
  act('gallery', gallery);
});
$('endless-toggle').addEventListener('click', () => setEndless(!endless.running));
$('load-model').addEventListener('click', () => {
  const url = $('model-url').value.trim();
  if (!url) return;
  const next = new URLSearchParams(location.search);
  next.set('model', url);
  location.search = next.toString();  // a fresh page: no state of the old model survives
});
$('model-url').addEventListener('keydown', e => { if (e.key === 'Enter') $('load-model').click(); });

// A file as given; a directory (a trailing slash, or no extension) by its manifest.json.
function sourceFor(text) {
  const last = text.split(/[?#]/)[0].split('/').pop();
  return last && last.includes('.') ? text : text.replace(/\/?$/, '/') + 'manifest.json';
}

// What serve.py serves (models.json), then the published decoders.
async function listModels() {
  let served = [];
  try {
    const r = await fetch('models.json');
    if (r.ok) served = await r.json();
  } catch (e) { /* another server: no list, the URL is typed */ }
  const list = $('model-list');
  for (const {url, name} of served) list.appendChild(new Option(name || url, url));
  for (const name of PUBLISHED_NAMES) {
    list.appendChild(new Option(`${name} (published decoder)`, `${PUBLISHED}${name}.gen.json`));
  }
  return served;
}

function enableFor(info) {
  const conditional = info.conditional;
  for (const id of ['finish', 'sample', 'endless-toggle']) $(id).disabled = false;
  for (const id of ['autoencode', 'a-from-pad', 'a-sample', 'b-from-pad', 'b-sample', 'interpolate']) {
    $(id).disabled = !conditional;
  }
  if (!conditional) {
    const why = 'This needs a conditional (VAE) model, which has an encoder: this one is ' +
        `decoder-only (${info.format === 'gen.json' ? 'a published .gen.json decoder' :
                         'an export trained with conditional=false'}). Load a VAE export to use it.`;
    for (const id of ['vae', 'interp']) {
      $(`${id}-note`).textContent = why;
      $(`${id}-note`).hidden = false;
      $(`${id}-section`).classList.add('disabled-section');
    }
    $('gallery-title').textContent = 'Samples at several temperatures (decoder-only: no codes)';
  }
  if (info.numClasses) {
    const names = info.classNames || [];
    for (let k = 0; k < info.numClasses; k++) $('label').appendChild(new Option(names[k] || `class ${k}`, k));
    $('label-box').hidden = false;
  }
}

async function main() {
  for (const name of ['seed', 'temperature']) {
    if (params.has(name)) $(name).value = params.get(name);
  }
  $('temperature-value').textContent = parseFloat($('temperature').value).toFixed(2);
  redrawPad();
  const served = await listModels();
  const chosen = params.get('model') || (served.length ? served[0].url : 'model/');
  const source = sourceFor(chosen);
  $('model-url').value = chosen;
  demo.source = source;
  status(`loading ${source} ...`);
  try {
    const options = {backend: params.get('backend') || 'auto',
                     wasmPaths: 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'};
    if (params.has('units')) options.pixelFactor = parseFloat(params.get('units'));
    model = await SketchRNN.load(source, options);
  } catch (err) {
    demo.error = String(err && err.message || err);
    $('backend').textContent = 'none';
    status(`could not load the model: ${demo.error}`, true);
    return;
  }
  const info = model.info;
  demo.backend = model.backend;
  demo.info = info;
  if (!params.has('units')) model.setPixelFactor(info.scaleFactor / PAD_PX_PER_UNIT);
  demo.pixelFactor = model.pixelFactor;
  $('backend').textContent = model.backend +
      (model.backendNotes && model.backendNotes.length ? ` (passed over: ${model.backendNotes.join('; ')})` : '');
  enableFor(info);
  demo.ready = true;
  status(`${info.name || 'model'}: ${info.conditional ? 'conditional (VAE)' : 'decoder-only'} ` +
         `${info.cell} decoder, ${info.units} units, on ${model.backend}. Draw on the pad.`);
  await act('gallery', gallery);
  if (params.get('endless') !== '0') setEndless(true);
}

main().catch(err => {
  demo.error = String(err && err.stack || err);
  status('error: ' + (err && err.message || err), true);
});
