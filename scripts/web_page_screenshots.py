"""Screenshots of the demo page (export/web/) on real models, for docs/.

  .venv/bin/python scripts/web_page_screenshots.py [--gen_json=../shared/pretrained/sheep.gen.json]
      [--tfjs_dir=EXPORT_DIR] [--out_dir=docs] [--seed=1] [--vae_seed=3]

Draws a sheep's body and head on the pad with the mouse (as tests/export/test_web_page.py
does, without the legs: the endings add them), lets the page finish it, and for a conditional export also auto-encodes it and interpolates to a sample;
saves docs/web_page_gen_json.png (the .gen.json decoder) and, given --tfjs_dir (our TF.js
export of a trained VAE: sketch-rnn-export --tfjs), docs/web_page_vae.png.
Needs `cd export/web && npm ci`, Debian's chromium and playwright.
"""
import argparse
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "export", "web"))


def shoot(context, url, path):
  from tests.export.test_web_page import drive, sheep_strokes
  page = context.new_page()
  state = drive(page, url, sheep_strokes()[:2])
  if state["error"]:
    raise RuntimeError(state["error"])
  page.click("#endless-toggle")  # stopped: the picture shows a whole drawing
  page.screenshot(path=path, full_page=True)
  page.close()
  print(f"{path}: {state['backend']}, {state['info']['name']}", flush=True)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gen_json", default=os.path.join(os.path.dirname(REPO), "shared",
                                                         "pretrained", "sheep.gen.json"))
  parser.add_argument("--tfjs_dir", default=None, help="a TF.js export of a conditional model")
  parser.add_argument("--out_dir", default=os.path.join(REPO, "docs"))
  parser.add_argument("--seed", type=int, default=1, help="the page's seed, .gen.json")
  parser.add_argument("--vae_seed", type=int, default=3, help="the page's seed, export")
  args = parser.parse_args(argv)
  import serve
  from playwright.sync_api import sync_playwright
  from tests.export.test_tfjs import launch_chromium
  extra = tempfile.mkdtemp(prefix="web_shots_")
  try:
    shutil.copy(args.gen_json, os.path.join(extra, "model.gen.json"))
    server, url = serve.serve_in_thread(args.tfjs_dir, extra)
    try:
      with sync_playwright() as p:
        context = launch_chromium(p)
        shoot(context, f"{url}?model=/extra/model.gen.json&seed={args.seed}",
              os.path.join(args.out_dir, "web_page_gen_json.png"))
        if args.tfjs_dir:
          shoot(context, f"{url}?model=/model/manifest.json&seed={args.vae_seed}",
                os.path.join(args.out_dir, "web_page_vae.png"))
        context.close()
    finally:
      server.shutdown()
  finally:
    shutil.rmtree(extra, ignore_errors=True)


if __name__ == "__main__":
  main()
