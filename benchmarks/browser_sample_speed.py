"""Browser sampling speed: the sketch-rnn-tf library vs @magenta/sketch 0.2.0, side by side.

One page in headless Chromium (the Debian package, driven by Playwright) holds three
iframes (each TF.js keeps its engine in a global, so tfjs 4.22 and magenta's bundled
tfjs 1.x cannot share one window), run one after the other:

  ours     the library (export/web/src, an ES module) on a published LSTM-512 .gen.json
           (default: the sheep) on its default backend (the WebAssembly SIMD kernel where
           the browser has SIMD), also on the plain-JS kernel, and on the same decoder
           imported and exported as our TF.js graphs (default backend there: the fastest
           TF.js backend that passes the load-time check). Also: a batch of 8 (ms per step),
           and the time from navigation start to the first point drawn (fetching and
           parsing the 4 MB .gen.json included).
  magenta  @magenta/sketch 0.2.0 on the same .gen.json, on each TF.js backend it can start
           (cpu; webgl where there is one), the fastest one counting.
  hyper    the library on a TF.js export of the paper preset's decoder (HyperLSTM 512,
           hyper cell 256, embeddings 32; decoder-only, random weights: speed does not
           depend on their values) on its default backend: one sketch, a batch of 8 and
           the time from this frame's navigation start to the first point (TF.js, the
           graphs and the load-time checks of each backend 'auto' tries included).

All run the same loop: update, getPDF, sample per step, for exactly --steps steps
(sampling goes on past an end state, so both do the same work), after a warm-up, --repeats
times. Figures are milliseconds per sketch (median, min). The last line of output is one
JSON object with the figures.

Needs: `cd export/web && npm ci`, `apt-get install -y chromium`, `pip install playwright`.

  .venv/bin/python benchmarks/browser_sample_speed.py [--gen_json=PATH] [--steps=250]
      [--repeats=5] [--demo_screenshot=PATH.png]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB = os.path.join(REPO, "export", "web")
HYPER_SOURCE = "random paper-preset HyperLSTM-512 decoder (TF.js export)"
DEFAULT_GEN_JSON = os.path.join(os.path.dirname(REPO), "shared", "pretrained", "sheep.gen.json")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

BENCH_HTML = """<!doctype html><meta charset="utf-8"><title>sampling speed</title>
<style>iframe { width: 32%%; height: 140px; border: 1px solid #ccc; }</style>
<h3>%(steps)d-step sketch</h3>
<iframe id="ours"></iframe><iframe id="magenta"></iframe><iframe id="hyper"></iframe>
<script>
window.results = {};
window.addEventListener('message', e => { window.results[e.data.side] = e.data; run(); });
const order = ['ours', 'magenta', 'hyper'];
function run() {  // one frame after the other, so they do not share the CPU
  const next = order.find(s => !(s in window.results) && !document.getElementById(s).src);
  if (next) document.getElementById(next).src = next + '.html' + location.search;
}
run();
</script>
"""

# What the two pages of our library share: the @magenta/sketch loop of n steps, a timed
# model (warm-up, then `repeats` sketches) and a batch of 8 (ms per step, per repeat).
OURS_HEAD = """<script src="/node_modules/@tensorflow/tfjs/dist/tf.min.js"></script>
<script src="/node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js"></script>
<script type="module">
import {SketchRNN} from '/src/index.js';
const q = new URLSearchParams(location.search);
const steps = +q.get('steps'), repeats = +q.get('repeats'), tau = 0.45;
const wasmPaths = '/node_modules/@tensorflow/tfjs-backend-wasm/dist/';
function sketch(model, n) {  // the @magenta/sketch loop, n steps
  let state = model.zeroState(), x = model.zeroInput();
  const t0 = performance.now();
  for (let t = 0; t < n; t++) {
    state = model.update(x, state);
    x = model.sample(model.getPDF(state, tau));
  }
  return performance.now() - t0;
}
function timedModel(model) {
  model.setSeed(1);
  sketch(model, 10);
  const times = [];
  for (let r = 0; r < repeats; r++) times.push(sketch(model, steps));
  return {model, backend: model.backend, times};
}
async function timed(source, options = {}) {
  return timedModel(await SketchRNN.load(source, {...options, wasmPaths}));
}
// The time from navigation start to the first point of a fresh load -> [ms, model].
async function firstPoint(source) {
  const model = await SketchRNN.load(source, {wasmPaths});
  let ms = null;
  for await (const e of model.stream({seed: 1, temperature: tau, maxLen: 1})) ms = performance.now();
  return [ms, model];
}
async function batch8(model) {  // ms per step of generate({n: 8}), one figure per repeat
  const out = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const sketches = await model.generate({n: 8, seed: r, temperature: tau, maxLen: steps});
    out.push((performance.now() - t0) / (Math.max(...sketches.map(s => s.length)) + 1));
  }
  return out;
}
"""

OURS_HTML = """<!doctype html><meta charset="utf-8"><body>ours: running ...
""" + OURS_HEAD + """
(async () => {
  try {
    const [firstPointMs] = await firstPoint('/extra/model.gen.json');
    const main = await timed('/extra/model.gen.json');
    const batch = await batch8(main.model);
    const js = await timed('/extra/model.gen.json', {backend: 'js'});
    const exported = await timed('/model/manifest.json');
    document.body.textContent = 'ours: ' + main.times.map(t => t.toFixed(0)).join(', ') + ' ms';
    parent.postMessage({side: 'ours', times: main.times, backend: main.backend,
                        jsTimes: js.times, exportTimes: exported.times,
                        exportBackend: exported.backend, exportNotes: exported.model.backendNotes,
                        batch8MsPerStep: batch, firstPointMs,
                        crossOriginIsolated: self.crossOriginIsolated}, '*');
  } catch (e) {
    parent.postMessage({side: 'ours', error: String(e && e.stack || e)}, '*');
  }
})();
</script>
"""

# The HyperLSTM export in a fresh iframe of its own, so that its first point is timed from
# that frame's navigation start (TF.js, the graphs, the backends' load-time checks included).
HYPER_HTML = """<!doctype html><meta charset="utf-8"><body>hyper: running ...
""" + OURS_HEAD + """
(async () => {
  try {
    const [firstPointMs, model] = await firstPoint('/extra/hyper/manifest.json');
    const main = timedModel(model);
    const batch = await batch8(model);
    document.body.textContent = 'hyper: ' + main.times.map(t => t.toFixed(0)).join(', ') + ' ms';
    parent.postMessage({side: 'hyper', times: main.times, backend: main.backend,
                        notes: model.backendNotes, batch8MsPerStep: batch, firstPointMs}, '*');
  } catch (e) {
    parent.postMessage({side: 'hyper', error: String(e && e.stack || e)}, '*');
  }
})();
</script>
"""

MAGENTA_HTML = """<!doctype html><meta charset="utf-8"><body>magenta: running ...
<script src="/node_modules/@magenta/sketch/dist/magentasketch.js"></script>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const steps = +q.get('steps'), repeats = +q.get('repeats'), tau = 0.45;
  try {
    const lib = window.ms.sketch || window.ms;
    const tf = lib.tf;
    const byBackend = {};
    for (const backend of ['cpu', 'webgl']) {
      let ok = false;
      try { ok = await tf.setBackend(backend); } catch (e) { ok = false; }
      if (!ok || tf.getBackend() !== backend) { byBackend[backend] = null; continue; }
      const model = new lib.SketchRNN('/extra/model.gen.json');
      await model.initialize();
      model.setPixelFactor(1.0);
      function sketch(n) {
        let state = model.zeroState();
        let x = model.zeroInput();
        const t0 = performance.now();
        for (let t = 0; t < n; t++) {
          state = model.update(x, state);
          x = model.sample(model.getPDF(state, tau));
        }
        return performance.now() - t0;
      }
      sketch(10);
      const times = [];
      for (let r = 0; r < repeats; r++) times.push(sketch(steps));
      byBackend[backend] = times;
      model.dispose();
    }
    document.body.textContent = 'magenta: ' + JSON.stringify(byBackend);
    parent.postMessage({side: 'magenta', byBackend, tfjs: tf.version && tf.version.tfjs}, '*');
  } catch (e) {
    parent.postMessage({side: 'magenta', error: String(e && e.stack || e)}, '*');
  }
})();
</script>
"""


def make_model(gen_json_path):
  """(model, description): the imported .gen.json, or a random magenta-size decoder."""
  if gen_json_path and os.path.exists(gen_json_path):
    from sketch_rnn_tf.export import gen_json
    return gen_json.model_from_gen_json(gen_json_path), os.path.basename(gen_json_path)
  from sketch_rnn_tf.export import signatures as export
  from sketch_rnn_tf.testing import model_from_hparams
  model = model_from_hparams("conditional=false", preset="magenta", scale_factor=50.0)
  return model, "random LSTM-512 (no .gen.json found)"


def make_hyper_model():
  """The paper preset's decoder, decoder-only (as the .gen.json), random weights: HyperLSTM
  512, hyper cell 256, embeddings 32, M 20; the MDN head drawn so that sketches run long."""
  from sketch_rnn_tf.testing import random_export_model
  return random_export_model("conditional=false", preset="paper")


def median(values):
  values = sorted(values)
  mid = len(values) // 2
  return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def cpu_model():
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
  except OSError:
    return None
  return next((line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.startswith("Model name")), None)


def chromium_version():
  try:
    return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                          timeout=30).stdout.strip()
  except OSError:
    return None


def demo_screenshot(context, url, path):
  """The demo page on this model: draws a stroke, finishes it, saves a screenshot."""
  page = context.new_page()
  page.goto(url + "?units=1")
  page.wait_for_function("window.demoState && (window.demoState.error || "
                         "window.demoState.gallery)", timeout=300000)
  box = page.locator("#pad").bounding_box()
  x0, y0 = box["x"] + 70, box["y"] + 140
  page.mouse.move(x0, y0)
  page.mouse.down()
  for k in range(1, 41):  # the top of a woolly body: a bumpy arc
    angle = math.pi * k / 40
    r = 80 + 8 * math.sin(k * 1.3)
    page.mouse.move(x0 + 90 - r * math.cos(angle), y0 - 0.6 * r * math.sin(angle))
  page.mouse.up()
  page.fill("#seed", "3")
  runs = page.evaluate("window.demoState.runs")
  page.click("#finish")
  page.wait_for_function(f"window.demoState.runs > {runs} || window.demoState.error",
                         timeout=300000)
  page.screenshot(path=path, full_page=True)
  error = page.evaluate("window.demoState.error")
  page.close()
  if error:
    raise RuntimeError(error)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gen_json", default=DEFAULT_GEN_JSON)
  parser.add_argument("--steps", type=int, default=250)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--demo_screenshot", default=None,
                      help="also save a screenshot of export/web with this model here")
  args = parser.parse_args(argv)
  for need, hint in ((os.path.join(WEB, "node_modules", "@magenta", "sketch"),
                      "cd export/web && npm ci"), (CHROMIUM, "apt-get install -y chromium")):
    if not os.path.exists(need):
      sys.exit(f"{need} missing: {hint}")
  from playwright.sync_api import sync_playwright
  from sketch_rnn_tf.export import tfjs as tfjs_convert
  sys.path.insert(0, WEB)
  import serve

  model, source = make_model(args.gen_json)
  tmp = tempfile.mkdtemp(prefix="browser_bench_")
  try:
    t0 = time.time()
    tfjs_dir = os.path.join(tmp, "tfjs")
    tfjs_convert.convert(model, tfjs_dir)
    print(f"converted {source} in {time.time() - t0:.1f} s", flush=True)
    extra = os.path.join(tmp, "extra")
    os.makedirs(extra)
    t0 = time.time()
    tfjs_convert.convert(make_hyper_model(), os.path.join(extra, "hyper"))
    print(f"converted {HYPER_SOURCE} in {time.time() - t0:.1f} s", flush=True)
    pages = {"bench.html": BENCH_HTML % {"steps": args.steps}, "ours.html": OURS_HTML,
             "magenta.html": MAGENTA_HTML, "hyper.html": HYPER_HTML}
    for name, text in pages.items():
      with open(os.path.join(extra, name), "w", encoding="utf-8") as f:
        f.write(text)
    if args.gen_json and os.path.exists(args.gen_json):
      shutil.copy(args.gen_json, os.path.join(extra, "model.gen.json"))
    else:
      from sketch_rnn_tf.export import gen_json
      gen_json.write_gen_json(model, os.path.join(extra, "model.gen.json"))
    server, url = serve.serve_in_thread(tfjs_dir, extra)
    try:
      with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            os.path.join(tmp, "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS)
        page = context.new_page()
        page.goto(f"{url}extra/bench.html?steps={args.steps}&repeats={args.repeats}")
        page.wait_for_function("Object.keys(window.results).length == 3", timeout=900000)
        results = page.evaluate("window.results")
        if args.demo_screenshot:
          demo_screenshot(context, url, args.demo_screenshot)
        context.close()
    finally:
      server.shutdown()
  finally:
    shutil.rmtree(tmp, ignore_errors=True)

  for side in ("ours", "magenta", "hyper"):
    if "error" in results[side]:
      sys.exit(f"{side} failed: {results[side]['error']}")
  ours, magenta, hyper = results["ours"], results["magenta"], results["hyper"]
  magenta_runs = {b: t for b, t in magenta["byBackend"].items() if t}
  best = min(magenta_runs, key=lambda b: median(magenta_runs[b]))
  figures = {
      "benchmark": "browser_sample_speed", "steps": args.steps, "repeats": args.repeats,
      "model": source, "units": int(model.hp.dec_rnn_size), "browser": chromium_version(),
      "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d"),
      "ours_backend": ours["backend"],
      "ours_ms_median": round(median(ours["times"]), 1),
      "ours_ms_min": round(min(ours["times"]), 1),
      "ours_js_kernel_ms_median": round(median(ours["jsTimes"]), 1),
      "ours_export_backend": ours["exportBackend"],
      "ours_export_ms_median": round(median(ours["exportTimes"]), 1),
      "ours_export_notes": ours["exportNotes"],
      "ours_batch8_ms_per_step_median": round(median(ours["batch8MsPerStep"]), 3),
      "ours_first_point_ms": round(ours["firstPointMs"], 1),
      "cross_origin_isolated": ours["crossOriginIsolated"],
      "magenta_tfjs": magenta["tfjs"],
      "magenta_backends": {b: (round(median(t), 1) if t else None)
                           for b, t in magenta["byBackend"].items()},
      "magenta_backend": best,
      "magenta_ms_median": round(median(magenta_runs[best]), 1),
      "magenta_ms_min": round(min(magenta_runs[best]), 1),
  }
  figures.update({
      "hyper_model": HYPER_SOURCE, "hyper_backend": hyper["backend"],
      "hyper_notes": hyper["notes"],
      "hyper_single_ms_median": round(median(hyper["times"]), 1),
      "hyper_single_ms_min": round(min(hyper["times"]), 1),
      "hyper_batch8_ms_per_step_median": round(median(hyper["batch8MsPerStep"]), 3),
      "hyper_first_point_ms": round(hyper["firstPointMs"], 1),
  })
  figures["ours_over_magenta"] = round(figures["ours_ms_median"] / figures["magenta_ms_median"],
                                       3)
  print(f"ours ({figures['ours_backend']}): {figures['ours_ms_median']} ms per "
        f"{args.steps}-step sketch; @magenta/sketch ({best}): {figures['magenta_ms_median']} ms; "
        f"ratio {figures['ours_over_magenta']}")
  print(f"HyperLSTM export ({figures['hyper_backend']}): {figures['hyper_single_ms_median']} ms "
        f"per {args.steps}-step sketch, batch of 8 "
        f"{figures['hyper_batch8_ms_per_step_median']} ms per step, first point after "
        f"{figures['hyper_first_point_ms']} ms")
  print(json.dumps(figures))


if __name__ == "__main__":
  main()
