"""A TF Serving REST API stand-in: one SavedModel loaded once, requests from many clients.

  python export/serving/rest_server.py --model_base_path=EXPORT/sketch_rnn \
      [--model_name=sketch_rnn] [--port=8501] [--host=127.0.0.1]

serves, as `tensorflow_model_server --rest_api_port` does:
  POST /v1/models/<name>[/versions/<v>]:predict   body as in requests/ -> 200 answer
                                                  or 400 {"error": ...}
  GET  /v1/models/<name>[/versions/<v>]           the version's status
  GET  /v1/models/<name>[/versions/<v>]/metadata  the signatures (our metadata asset)
The latest numbered version under the base path is loaded (or --saved_model, one
version directory). Bodies are answered by local_predict.predict, so this and
local_predict agree; requests run in threads against the one loaded model, the way
TF Serving runs a model's session for concurrent requests. A body over --max_body_bytes
is refused (413) without being kept. It prints `listening on HOST:PORT` when ready
(--port=0 picks a free port). For tests and load benchmarks, and for trying the
bodies without Docker; production serving is TF Serving itself (models.config).
"""
import argparse
import http.server
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import local_predict  # noqa: E402  (sets TF's log level and CPU-only before TF loads)
import tensorflow as tf  # noqa: E402

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                   r"(?P<rest>:predict|/metadata)?$")


def latest_version(base_path):
  """(version, directory) of the highest numbered version under base_path."""
  versions = sorted(int(n) for n in os.listdir(base_path)
                    if n.isdigit() and os.path.isdir(os.path.join(base_path, n)))
  if not versions:
    raise SystemExit(f"{base_path}: no numbered version directories (1/, 2/, ...)")
  return versions[-1], os.path.join(base_path, str(versions[-1]))


class _Handler(http.server.BaseHTTPRequestHandler):
  server_version = "sketch-rnn-rest/1"
  protocol_version = "HTTP/1.1"  # keep-alive, as TF Serving's REST server

  def log_message(self, *args):  # the load benchmark sends thousands
    pass

  def _reply(self, status, body):
    data = json.dumps(body).encode("utf-8")
    self.send_response(status)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def _route(self):
    """(rest of the path) for this model and version, or None after a 404 reply."""
    m = _PATH.match(self.path)
    cfg = self.server.model
    if m is None or m["name"] != cfg["name"]:
      self._reply(404, {"error": f"Servable not found for request: {self.path}"})
      return None
    if m["version"] is not None and int(m["version"]) != cfg["version"]:
      self._reply(404, {"error": f"Servable not found for request: Specific({cfg['name']}, "
                                 f"{m['version']}); serving version {cfg['version']}"})
      return None
    return m["rest"] or ""

  def do_GET(self):
    rest = self._route()
    if rest is None:
      return
    cfg = self.server.model
    if rest == "/metadata":
      self._reply(200, {"model_spec": {"name": cfg["name"], "version": str(cfg["version"])},
                        "metadata": {"signature_def": cfg["metadata"]["signatures"]}})
    elif rest == "":
      self._reply(200, {"model_version_status": [{
          "version": str(cfg["version"]), "state": "AVAILABLE",
          "status": {"error_code": "OK", "error_message": ""}}]})
    else:
      self._reply(405, {"error": "predict takes POST"})

  def do_POST(self):
    try:
      size = int(self.headers.get("Content-Length", ""))
    except ValueError:
      self._reply(411, {"error": "a Content-Length header is required"})
      return
    if size < 0 or size > self.server.max_body_bytes:
      # Drained in small pieces (nothing is kept), so the client reads the answer
      # instead of a reset; a body far past the limit is not worth reading at all.
      if 0 <= size <= 16 * self.server.max_body_bytes:
        while size > 0:
          size -= len(self.rfile.read(min(size, 1 << 16)) or b"\0" * size)
      else:
        self.close_connection = True
      self._reply(413, {"error": f"the body has {size} bytes; the limit is "
                                 f"{self.server.max_body_bytes} (--max_body_bytes)"})
      return
    raw = self.rfile.read(size)
    if self._route() != ":predict":
      return
    try:
      body = json.loads(raw)
      if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
      answer = local_predict.predict(self.server.loaded, body)
    except (ValueError, TypeError, RecursionError, tf.errors.OpError) as e:
      message = (local_predict.clean(e.message) if isinstance(e, tf.errors.OpError)
                 else str(e))
      self._reply(400, {"error": message or type(e).__name__})
      return
    except Exception as e:  # a bug, not a bad request: say so rather than drop the connection
      self._reply(500, {"error": f"{type(e).__name__}: {e}"})
      return
    self._reply(200, answer)


class Server(http.server.ThreadingHTTPServer):
  daemon_threads = True

  def __init__(self, address, saved_model, name, version, max_body_bytes):
    super().__init__(address, _Handler)
    self.loaded = tf.saved_model.load(saved_model)
    from sketch_rnn_tf.export import signatures
    self.model = {"name": name, "version": version,
                  "metadata": signatures.read_metadata(saved_model)}
    self.max_body_bytes = max_body_bytes


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  where = parser.add_mutually_exclusive_group(required=True)
  where.add_argument("--model_base_path", help="holds numbered versions; the latest serves")
  where.add_argument("--saved_model", help="one version directory")
  parser.add_argument("--model_name", default="sketch_rnn")
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, default=8501)
  parser.add_argument("--max_body_bytes", type=int, default=64 << 20)
  args = parser.parse_args(argv)
  if args.saved_model:
    path = args.saved_model.rstrip("/")
    name = os.path.basename(path)
    version = int(name) if name.isdigit() else 1
  else:
    version, path = latest_version(args.model_base_path)
  server = Server((args.host, args.port), path, args.model_name, version,
                  args.max_body_bytes)
  host, port = server.server_address[:2]
  print(f"listening on {host}:{port}", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()


if __name__ == "__main__":
  sys.exit(main())
