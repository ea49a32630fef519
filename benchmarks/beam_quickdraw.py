"""The quickdraw_ndjson Beam pipeline on local workers, and what the full set would take.

Usage: python benchmarks/beam_quickdraw.py [--per_category=4000] [--categories=4]
           [--workers=1,2] [--formats=simplified,raw]

Quick, Draw! `.ndjson` files are made from real drawings (the sheep of
../shared/data/aaron_sheep.npz, as `simplified` files: integer coordinates in a
0-255 box; as `raw` files: a 4x larger box, a point every ~3 px and times, as
the raw files have), one file per category, and built with the TFDS builder on
Beam's FnApiRunner with --direct_num_workers worker processes
(multi_processing). For each format and worker count: drawings/s in all and per
worker, the peak RSS of each worker process and of the pipeline's own, the
output's bytes per drawing. Then the full set (50 million drawings) is
extrapolated from the per-worker rate: worker-hours, hours on 100 workers, the
output size and TFDS's shard count (64 MiB - 1 GiB shards). The last line is one
JSON object.
"""
import json
import os
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from absl import app, flags  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

import peaks  # noqa: E402  (benchmarks/peaks.py)

flags.DEFINE_integer("per_category", 4000, "Drawings per category file.")
flags.DEFINE_integer("categories", 4, "Category files.")
flags.DEFINE_list("workers", ["1", "2"], "Beam worker process counts to measure.")
flags.DEFINE_list("formats", ["simplified", "raw"], "Builder configs to measure.")
FLAGS = flags.FLAGS

FULL_SET = 50_000_000   # Quick, Draw!: 50 million drawings over 345 categories
CATEGORIES = ("sheep", "cat", "dog", "pig", "cow", "horse", "bird", "fish")


def polylines(stroke3):
  """Absolute polylines of a stroke-3 sketch, shifted into the positive quadrant."""
  xy = np.cumsum(stroke3[:, :2].astype(np.float64), axis=0)
  xy -= xy.min(axis=0)
  ends = np.flatnonzero(stroke3[:, 2]) + 1
  return [p for p in np.split(xy, ends) if len(p)]


def simplified_drawing(stroke3):
  lines = polylines(stroke3)
  scale = 255.0 / max(1.0, max(float(p.max()) for p in lines))
  return [[np.round(p[:, 0] * scale).astype(int).tolist(),
           np.round(p[:, 1] * scale).astype(int).tolist()] for p in lines]


def raw_drawing(stroke3, rng):
  lines = polylines(stroke3)
  scale = 1000.0 / max(1.0, max(float(p.max()) for p in lines))
  out, t = [], 0
  for p in lines:
    p = p * scale
    dense = [p[0]]
    for a, b in zip(p[:-1], p[1:]):
      n = max(1, int(np.linalg.norm(b - a) / 3.0))
      dense.extend(a + (b - a) * (np.arange(1, n + 1)[:, None] / n))
    dense = np.asarray(dense) + rng.normal(0, 0.4, (len(dense), 2))
    times = t + np.cumsum(rng.integers(5, 20, len(dense)))
    t = int(times[-1]) + 300
    out.append([np.round(dense[:, 0]).astype(int).tolist(),
                np.round(dense[:, 1]).astype(int).tolist(), times.astype(int).tolist()])
  return out


def write_files(root, fmt, sketches, categories, per_category):
  rng = np.random.default_rng(0)
  os.makedirs(os.path.join(root, fmt), exist_ok=True)
  total_bytes = 0
  for c, category in enumerate(categories):
    path = os.path.join(root, fmt, f"{category}.ndjson")
    with open(path, "w") as f:
      for i in range(per_category):
        s = sketches[(c * per_category + i) % len(sketches)]
        drawing = simplified_drawing(s) if fmt == "simplified" else raw_drawing(s, rng)
        f.write(json.dumps({"word": category, "countrycode": "US",
                            "timestamp": "2017-03-01 00:00:00.00000 UTC", "recognized": True,
                            "key_id": str(10**15 + c * 10**7 + i), "drawing": drawing}) + "\n")
    total_bytes += os.path.getsize(path)
  return total_bytes


class RssSampler:
  """Peak RSS of this process and of each child process (the Beam workers)."""

  def __init__(self):
    self.me = psutil.Process()
    self.peak, self.children, self.stop = 0, {}, threading.Event()
    self.thread = threading.Thread(target=self._run, daemon=True)

  def _run(self):
    while not self.stop.is_set():
      try:
        self.peak = max(self.peak, self.me.memory_info().rss)
        for child in self.me.children(recursive=True):
          try:
            rss = child.memory_info().rss
          except psutil.Error:
            continue
          self.children[child.pid] = max(self.children.get(child.pid, 0), rss)
      except psutil.Error:
        pass
      self.stop.wait(0.1)

  def __enter__(self):
    self.thread.start()
    return self

  def __exit__(self, *exc):
    self.stop.set()
    self.thread.join()


def build(manual, fmt, workers, data_dir):
  from apache_beam.options.pipeline_options import PipelineOptions
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner
  import tensorflow_datasets as tfds
  import tfds_quickdraw  # noqa: F401  (registers the builders)
  options = PipelineOptions(flags=[f"--direct_num_workers={workers}",
                                   "--direct_running_mode=multi_processing"])
  builder = tfds.builder(f"quickdraw_ndjson/{fmt}", data_dir=data_dir)
  start = time.perf_counter()
  with RssSampler() as rss:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=manual, beam_runner=FnApiRunner(), beam_options=options))
  seconds = time.perf_counter() - start
  out_bytes = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(builder.data_dir)
                  for f in fs if ".tfrecord" in f)
  # The workers are the children that lived long enough to matter (over 100 MB).
  worker_peaks = sorted((v for v in rss.children.values() if v > 100 << 20), reverse=True)
  return {"drawings": builder.info.splits.total_num_examples, "seconds": seconds,
          "out_bytes": out_bytes, "main_peak_mb": rss.peak / 2**20,
          "worker_peak_mb": [round(v / 2**20) for v in worker_peaks[:workers]]}


def main(argv):
  del argv
  from sketch_rnn_tf.data import npz_io
  from sketch_rnn_tf.testing import SHEEP
  cpu, _ = peaks.cpu_name()
  sheep = npz_io.load_npz(SHEEP, ("train",))["train"]
  categories = CATEGORIES[:FLAGS.categories]
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    for fmt in FLAGS.formats:
      manual = os.path.join(tmp, "manual")
      in_bytes = write_files(manual, fmt, sheep, categories, FLAGS.per_category)
      for workers in map(int, FLAGS.workers):
        r = build(manual, fmt, workers, os.path.join(tmp, f"data_{fmt}_{workers}"))
        r["in_bytes_per_drawing"] = in_bytes / (FLAGS.per_category * len(categories))
        r["drawings_per_s"] = r["drawings"] / r["seconds"]
        r["per_worker_drawings_per_s"] = r["drawings_per_s"] / workers
        results[f"{fmt}_{workers}"] = r
        print(f"{fmt:10s} {workers} worker(s): {r['drawings']} drawings in {r['seconds']:.1f} s"
              f" = {r['drawings_per_s']:.0f}/s ({r['per_worker_drawings_per_s']:.0f}/s per "
              f"worker); peak RSS per worker {r['worker_peak_mb']} MB, pipeline "
              f"{r['main_peak_mb']:.0f} MB; {r['in_bytes_per_drawing']:.0f} B in, "
              f"{r['out_bytes'] / r['drawings']:.0f} B out per drawing", flush=True)
  print(f"\nCPU: {cpu}, {os.cpu_count()} CPUs. The full set ({FULL_SET:,} drawings), from "
        "the 1-worker rate (one core per worker):")
  estimate = {}
  for fmt in FLAGS.formats:
    r = results.get(f"{fmt}_1") or results[f"{fmt}_{FLAGS.workers[0]}"]
    worker_hours = FULL_SET / r["per_worker_drawings_per_s"] / 3600
    out_gb = FULL_SET * r["out_bytes"] / r["drawings"] / 1e9
    # TFDS: shards of at most 1 GiB (and at least 64 MiB), all splits together.
    shards = int(np.ceil(out_gb * 1e9 / (1 << 30)))
    estimate[fmt] = {"worker_hours": worker_hours, "hours_on_100_workers": worker_hours / 100,
                     "input_gb": FULL_SET * r["in_bytes_per_drawing"] / 1e9,
                     "output_gb": out_gb, "shards_at_1gib": shards}
    print(f"  {fmt:10s} {worker_hours:7.1f} worker-hours ({worker_hours / 100:.2f} h on 100 "
          f"workers); input ~{estimate[fmt]['input_gb']:.0f} GB, output ~{out_gb:.0f} GB in "
          f"~{shards} shards of 1 GiB")
  print(json.dumps({"cpu": cpu, "results": results, "full_set_estimate": estimate}))


if __name__ == "__main__":
  app.run(main)
