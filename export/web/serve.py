"""Serves the demo page and a converted model on localhost (no build step).

  python export/web/serve.py --tfjs_dir=export_out/tfjs/sketch_rnn/1 [--port=8000]
  python export/web/serve.py --extra_dir=../shared/pretrained     # .gen.json decoders only

then open http://127.0.0.1:8000/ . Paths:
  /                 this directory (index.html, app.js, the library in src/, and node_modules/
                    after `npm ci` here: TF.js is served from it, not from a CDN)
  /model/           --tfjs_dir, if given (manifest.json and the converted graphs)
  /extra/           --extra_dir, if given (more models: .gen.json files, export directories)
  /models.json      the models served: [{"name", "url"}], for the page's model picker
Prints "serving on http://127.0.0.1:PORT/" once listening (--port=0 picks a free port).
"""
import argparse
import functools
import http.server
import json
import os
import sys
import threading

WEB_DIR = os.path.dirname(os.path.abspath(__file__))


class Handler(http.server.SimpleHTTPRequestHandler):
  """Static files with /model/ and /extra/ mounted from other directories."""

  mounts = {}

  def do_GET(self):
    if self.path.split("?", 1)[0] == "/models.json":
      body = json.dumps(list_models(self.mounts)).encode("utf-8")
      self.send_response(200)
      self.send_header("Content-Type", "application/json")
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)
      return
    super().do_GET()
  extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                        **{".js": "text/javascript", ".json": "application/json",
                           ".bin": "application/octet-stream", ".mjs": "text/javascript",
                           ".cjs": "text/javascript", ".wasm": "application/wasm"})

  def translate_path(self, path):
    clean = path.split("?", 1)[0].split("#", 1)[0]
    for prefix, directory in self.mounts.items():
      if clean.startswith(prefix):
        rel = clean[len(prefix):]
        parts = [p for p in rel.split("/") if p and p not in (".", "..")]
        return os.path.join(directory, *parts)
    return super().translate_path(path)

  def end_headers(self):
    self.send_header("Cache-Control", "no-store")  # a re-export shows on reload
    # Cross-origin isolation: SharedArrayBuffer, so TF.js's wasm backend may use threads.
    self.send_header("Cross-Origin-Opener-Policy", "same-origin")
    self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
    super().end_headers()

  def log_message(self, fmt, *args):  # quiet: the tests read stdout
    if os.environ.get("SKETCH_RNN_SERVE_LOG"):
      super().log_message(fmt, *args)


def list_models(mounts, depth=3):
  """The models under the mounts: each export's manifest.json and each .gen.json, by URL
  (our export first: the page loads the first one by default)."""
  found = []
  for prefix, directory in mounts.items():
    for root, dirs, files in os.walk(directory):
      rel = os.path.relpath(root, directory)
      level = 0 if rel == "." else rel.count(os.sep) + 1
      if level >= depth:
        dirs[:] = []
      dirs.sort()
      for name in sorted(files):
        if name == "manifest.json" or name.endswith(".gen.json"):
          path = name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}"
          label = (rel if name == "manifest.json" and rel != "." else
                   name[:-len(".gen.json")] if name.endswith(".gen.json") else prefix.strip("/"))
          found.append({"name": label, "url": prefix + path})
  return found


def make_server(tfjs_dir=None, port=8000, extra_dir=None, host="127.0.0.1"):
  mounts = {}
  if tfjs_dir:
    mounts["/model/"] = os.path.abspath(tfjs_dir)
  if extra_dir:
    mounts["/extra/"] = os.path.abspath(extra_dir)
  handler = type("MountedHandler", (Handler,), {"mounts": mounts})
  return http.server.ThreadingHTTPServer(
      (host, port), functools.partial(handler, directory=WEB_DIR))


def serve_in_thread(tfjs_dir, extra_dir=None):
  """(server, base URL) on a free port, serving from a daemon thread (for tests)."""
  server = make_server(tfjs_dir, 0, extra_dir)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main(argv=None):
  parser = argparse.ArgumentParser(description="Serve the Sketch-RNN demo page.")
  parser.add_argument("--tfjs_dir", default=None, help="converted model (manifest.json)")
  parser.add_argument("--port", type=int, default=8000)
  parser.add_argument("--extra_dir", default=None, help="served under /extra/")
  args = parser.parse_args(argv)
  if not args.tfjs_dir and not args.extra_dir:
    sys.exit("nothing to serve: give --tfjs_dir and/or --extra_dir")
  if args.tfjs_dir and not os.path.exists(os.path.join(args.tfjs_dir, "manifest.json")):
    sys.exit(f"no manifest.json in {args.tfjs_dir}: run sketch-rnn-export --tfjs first")
  if not os.path.isdir(os.path.join(WEB_DIR, "node_modules", "@tensorflow", "tfjs")):
    sys.exit(f"TF.js is not installed: cd {WEB_DIR} && npm ci")
  server = make_server(args.tfjs_dir, args.port, args.extra_dir)
  print(f"serving on http://127.0.0.1:{server.server_address[1]}/", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass


if __name__ == "__main__":
  main()
