// The demo page: a drawing pad whose sketch the model finishes several times, and a
// gallery of samples with a temperature slider, on the sketch-rnn-tf library (src/).
//
// Query parameters: ?model=URL of a manifest's directory (default model/) or of a .gen.json
// file, ?backend=auto|wasm-simd|js|tfjs-wasm|tfjs-cpu|tfjs-webgl (default auto: the fastest
// that works here; the status line names it), ?units=data units per canvas pixel (default 1).
// The page's state is kept in window.demoState for tests.
import {SketchRNN} from './src/index.js';

{
  const NUM_COMPLETIONS = 4;
  const GALLERY_SIZE = 8;
  const MAX_LEN = 250;
  const MIN_MOVE = 3;  // canvas px between recorded points (a light simplification)
  const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

  const params = new URLSearchParams(location.search);
  const base = params.get('model') || 'model/';
  const source = base.endsWith('.json') ? base : base.replace(/\/?$/, '/') + 'manifest.json';
  const unitsPerPixel = parseFloat(params.get('units') || '1');
  const demo = window.demoState = {
    ready: false, busy: false, error: null, backend: null, manifest: null,
    completions: null, gallery: null, timings: {}, runs: 0,
  };
  const $ = id => document.getElementById(id);
  const status = text => { $('status').textContent = text; };
  let model = null;

  // ---- drawing pad -------------------------------------------------------------

  const pad = $('pad');
  const ctx = pad.getContext('2d');
  let strokes = [];       // lists of [x, y] canvas px
  let drawing = false;

  function padPoint(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  }

  function redrawPad() {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 2;
    ctx.lineCap = ctx.lineJoin = 'round';
    for (const s of strokes) {
      ctx.beginPath();
      s.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      if (s.length === 1) ctx.lineTo(s[0][0] + 0.1, s[0][1]);
      ctx.stroke();
    }
  }

  pad.addEventListener('pointerdown', e => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    strokes.push([padPoint(e)]);
    redrawPad();
  });
  pad.addEventListener('pointermove', e => {
    if (!drawing) return;
    const p = padPoint(e);
    const s = strokes[strokes.length - 1];
    const last = s[s.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= MIN_MOVE) {
      s.push(p);
      redrawPad();
    }
  });
  const endStroke = () => { drawing = false; };
  pad.addEventListener('pointerup', endStroke);
  pad.addEventListener('pointercancel', endStroke);

  // The drawing as stroke-5 rows in data units, from its first point: each row moves
  // to the next point; p2 = 1 where a stroke ends (the pen is lifted after it).
  function drawnRows() {
    const rows = [];
    let prev = null;
    for (const s of strokes) {
      s.forEach((p, i) => {
        if (prev) {
          const up = i === s.length - 1 ? 1 : 0;
          rows.push([(p[0] - prev[0]) * unitsPerPixel, (p[1] - prev[1]) * unitsPerPixel,
                     1 - up, up, 0]);
        }
        prev = p;
      });
    }
    if (rows.length) { const last = rows[rows.length - 1]; last[2] = 0; last[3] = 1; }
    return rows;
  }

  // ---- rendering ---------------------------------------------------------------

  // Draws segments [{rows: stroke-5 rows, color}] one after the other from (0, 0),
  // scaled to fit. A row is a move to its point; the line is drawn when the pen was
  // down after the previous point (penUp: the state before the first row).
  function renderSketch(canvas, segments, penUp = true) {
    const c = canvas.getContext('2d');
    c.fillStyle = '#fff';
    c.fillRect(0, 0, canvas.width, canvas.height);
    let x = 0, y = 0, up = penUp;
    const lines = [];
    let minX = 0, maxX = 0, minY = 0, maxY = 0;
    for (const seg of segments) {
      for (const r of seg.rows) {
        const nx = x + r[0], ny = y + r[1];
        if (!up) lines.push([x, y, nx, ny, seg.color]);
        x = nx; y = ny;
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
        up = r[3] === 1 || r[4] === 1;
      }
    }
    const margin = 8;
    const scale = Math.min((canvas.width - 2 * margin) / Math.max(maxX - minX, 1),
                           (canvas.height - 2 * margin) / Math.max(maxY - minY, 1));
    const ox = margin - minX * scale + (canvas.width - 2 * margin - (maxX - minX) * scale) / 2;
    const oy = margin - minY * scale + (canvas.height - 2 * margin - (maxY - minY) * scale) / 2;
    c.lineWidth = 1.5;
    c.lineCap = c.lineJoin = 'round';
    for (const [x0, y0, x1, y1, color] of lines) {
      c.strokeStyle = color;
      c.beginPath();
      c.moveTo(ox + x0 * scale, oy + y0 * scale);
      c.lineTo(ox + x1 * scale, oy + y1 * scale);
      c.stroke();
    }
    return lines.length;
  }

  function canvases(container, n, size) {
    container.innerHTML = '';
    const out = [];
    for (let i = 0; i < n; i++) {
      const cv = document.createElement('canvas');
      cv.width = cv.height = size;
      container.appendChild(cv);
      out.push(cv);
    }
    return out;
  }

  const allFinite = rows => rows.every(r => r.every(Number.isFinite));

  // Labels for a class-conditional model: cycle through the classes.
  function labelsFor(batch) {
    if (!model.info.numClasses) return null;
    return Array.from({length: batch}, (_, b) => b % model.info.numClasses);
  }

  // ---- the two actions ---------------------------------------------------------

  // Stroke-5 rows in canvas pixels: the library's screen pixels (pixelFactor = units).
  const canvasRows = () => drawnRows().map(r => [r[0] / unitsPerPixel, r[1] / unitsPerPixel,
                                                 r[2], r[3], r[4]]);

  async function finish() {
    const rows = canvasRows();
    if (!rows.length) { status('draw something first'); return; }
    const tau = parseFloat($('temperature').value);
    const seed = parseInt($('seed').value, 10) || 0;
    demo.busy = true;
    status('finishing the sketch ...');
    await new Promise(r => requestAnimationFrame(r));
    const t0 = performance.now();
    const endings = await model.complete(rows, {n: NUM_COMPLETIONS, temperature: tau, seed,
                                                maxLen: MAX_LEN, labels: labelsFor(1)});
    const ms = performance.now() - t0;
    const views = canvases($('completions'), NUM_COMPLETIONS, 150);
    demo.completions = endings.map((points, b) => ({
      length: points.length, finite: allFinite(points),
      lines: renderSketch(views[b], [{rows, color: '#000'},
                                     {rows: points, color: COLORS[b % COLORS.length]}], false),
    }));
    const steps = rows.length + Math.max(...endings.map(e => e.length)) + 1;
    demo.timings.finish = {ms, steps, msPerStep: ms / steps};
    demo.runs += 1;
    demo.busy = false;
    status(`finished ${NUM_COMPLETIONS} times in ${ms.toFixed(0)} ms ` +
           `(${(ms / steps).toFixed(2)} ms per step, ${demo.backend} backend)`);
  }

  async function gallery() {
    const tau = parseFloat($('gallery-temperature').value);
    demo.busy = true;
    status('drawing samples ...');
    await new Promise(r => requestAnimationFrame(r));
    const t0 = performance.now();
    const sketches = await model.generate({n: GALLERY_SIZE, temperature: tau, maxLen: MAX_LEN,
                                           seed: Date.now() & 0xffff,
                                           labels: labelsFor(GALLERY_SIZE)});
    const ms = performance.now() - t0;
    const views = canvases($('gallery'), GALLERY_SIZE, 120);
    demo.gallery = sketches.map((points, b) => ({
      length: points.length, finite: allFinite(points),
      lines: renderSketch(views[b], [{rows: points, color: COLORS[b % COLORS.length]}]),
    }));
    demo.timings.gallery = {ms, steps: Math.max(...sketches.map(s => s.length)) + 1};
    demo.runs += 1;
    demo.busy = false;
    status(`${GALLERY_SIZE} samples at temperature ${tau.toFixed(2)} in ${ms.toFixed(0)} ms`);
  }

  function guard(action) {
    return () => {
      if (!model || demo.busy) return;
      action().catch(err => {
        demo.error = String(err && err.stack || err);
        demo.busy = false;
        status('error: ' + err);
      });
    };
  }

  for (const id of ['temperature', 'gallery-temperature']) {
    $(id).addEventListener('input', () => {
      $(id + '-value').textContent = parseFloat($(id).value).toFixed(2);
    });
  }
  $('gallery-temperature').addEventListener('change', guard(gallery));
  $('finish').addEventListener('click', guard(finish));
  $('sample').addEventListener('click', guard(gallery));
  $('clear').addEventListener('click', () => {
    strokes = [];
    redrawPad();
    $('completions').innerHTML = '';
  });
  redrawPad();

  async function main() {
    status('loading the model ...');
    model = await SketchRNN.load(source, {
      backend: params.get('backend') || 'auto', pixelFactor: unitsPerPixel,
      wasmPaths: 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'});
    demo.backend = model.backend;
    demo.manifest = model.info;
    demo.ready = true;
    $('finish').disabled = $('sample').disabled = false;
    const info = model.info;
    const kind = info.conditional ? 'conditional' : 'unconditional';
    status(`ready: ${kind} ${info.cell} decoder, ${info.units} units ` +
           `(${demo.backend} backend). Draw the start of a sketch.`);
    await gallery();
  }

  main().catch(err => {
    demo.error = String(err && err.stack || err);
    status('error: ' + (err && err.message || err));
  });
}
