"""RDP throughput of the `simplify` backends, and whether their outputs agree.

Usage: python benchmarks/rdp_throughput.py [--data=../shared/data/aaron_sheep.npz]
         [--sketches=500] [--epsilon=2.0]

Takes the absolute polylines of a seeded sample of sketches (all splits), in
two forms: as stored (already simplified, ~11 points per stroke) and resampled
at 1-pixel spacing (`ndjson.resample`, what raw Quick, Draw! strokes look like
before simplification, ~10x the points). For each form it prints points/s for:
- rdp: the `rdp` package, one call per polyline (the reference output);
- simplification: `simplification.cutil.simplify_coords`, one call per polyline;
- numpy: `simplify.rdp_simplify(backend="numpy")`, one call per polyline;
- numpy_batched: `simplify.simplify_polylines` on all polylines at once;
with the speedup over rdp and how many polylines differ from rdp's output.
Polylines where simplification differs are re-run through `geo_rdp` below (RDP
with distance to the segment and the last farthest point winning, computed as
the Rust `geo` crate does) to check that those two differences explain all of
them. The last line is one JSON object.
"""
import json
import os
import sys
import time

import numpy as np
from absl import app, flags

from sketch_rnn_tf.data import ndjson, npz_io, simplify, strokes

_HERE = os.path.dirname(os.path.abspath(__file__))
flags.DEFINE_string("data", os.path.join(_HERE, "..", "..", "shared", "data", "aaron_sheep.npz"),
                    "Sketch .npz file.")
flags.DEFINE_integer("sketches", 500, "Sketches sampled from all splits (0: all of them; the "
                     "rdp package then takes about 15 minutes).")
flags.DEFINE_float("epsilon", 2.0, "RDP tolerance in pixels.")
flags.DEFINE_integer("repeats", 3, "Timing repeats for the fast backends (best is kept).")
flags.DEFINE_integer("seed", 0, "Sampling seed.")
FLAGS = flags.FLAGS


def geo_rdp(points, epsilon):
  """RDP as `geo` (and so `simplification`) computes it, for explaining differences.

  Distance is to the segment: |p - a| or |p - b| when p projects outside it,
  else |cross| / |b - a|^2 * hypot(b - a); the last farthest point wins ties.
  """
  n = len(points)
  keep = np.zeros(n, dtype=bool)
  if n == 0:
    return points
  keep[0] = keep[-1] = True
  stack = [(0, n - 1)]
  while stack:
    a, b = stack.pop()
    if b - a < 2:
      continue
    s, e, q = points[a], points[b], points[a + 1:b]
    if np.array_equal(s, e):
      d = np.hypot(q[:, 0] - s[0], q[:, 1] - s[1])
    else:
      dx, dy = e[0] - s[0], e[1] - s[1]
      d2 = dx * dx + dy * dy
      r = ((q[:, 0] - s[0]) * dx + (q[:, 1] - s[1]) * dy) / d2
      d = np.abs(((s[1] - q[:, 1]) * dx - (s[0] - q[:, 0]) * dy) / d2) * np.hypot(dx, dy)
      before, after = r <= 0, r >= 1
      d[before] = np.hypot(q[before, 0] - s[0], q[before, 1] - s[1])
      d[after] = np.hypot(q[after, 0] - e[0], q[after, 1] - e[1])
    i = len(d) - 1 - int(np.argmax(d[::-1]))
    if d[i] > epsilon:
      keep[a + 1 + i] = True
      stack += [(a, a + 1 + i), (a + 1 + i, b)]
  return points[keep]


def timed(fn, repeats):
  best, out = float("inf"), None
  for _ in range(repeats):
    start = time.perf_counter()
    out = fn()
    best = min(best, time.perf_counter() - start)
  return best, out


def differing(outputs, reference):
  return [i for i, (a, b) in enumerate(zip(outputs, reference))
          if a.shape != b.shape or not np.array_equal(a, b)]


def measure(lines, epsilon, repeats):
  n_points = sum(len(line) for line in lines)
  per_line = lambda backend: lambda: [simplify.rdp_simplify(l, epsilon, backend) for l in lines]
  runs = {
      "rdp": timed(per_line("rdp"), 1),
      "simplification": timed(per_line("simplification"), repeats),
      "numpy": timed(per_line("numpy"), repeats),
      "numpy_batched": timed(lambda: simplify.simplify_polylines(lines, epsilon), repeats),
  }
  reference = runs["rdp"][1]
  result = {"polylines": len(lines), "points": n_points, "points_per_s": {},
            "speedup_vs_rdp": {}, "polylines_differing_from_rdp": {}}
  for name, (seconds, outputs) in runs.items():
    result["points_per_s"][name] = round(n_points / seconds)
    result["speedup_vs_rdp"][name] = round(runs["rdp"][0] / seconds, 1)
    result["polylines_differing_from_rdp"][name] = len(differing(outputs, reference))
  result["match_rdp"] = {name: count == 0 for name, count
                         in result["polylines_differing_from_rdp"].items()}
  diff = differing(runs["simplification"][1], reference)
  explained = [i for i in diff
               if np.array_equal(geo_rdp(lines[i], epsilon), runs["simplification"][1][i])]
  result["simplification_diffs_explained_by_segment_distance_and_last_tie"] = len(explained)
  kept = sum(len(o) for o in reference)
  result["kept_points_rdp"] = kept
  return result


def main(_):
  if not os.path.exists(FLAGS.data):
    sys.exit(f"data not found: {FLAGS.data}")
  data = npz_io.load_npz(FLAGS.data)
  sketches = [s for split in npz_io.SPLITS for s in data[split]]
  if FLAGS.sketches:
    rng = np.random.default_rng(FLAGS.seed)
    chosen = rng.choice(len(sketches), min(FLAGS.sketches, len(sketches)), replace=False)
    sketches = [sketches[i] for i in np.sort(chosen)]
  stored = [line for s in sketches for line in strokes.to_polylines(s)]
  resampled = [ndjson.resample(line, 1.0) for line in stored]
  results = {"data": os.path.basename(FLAGS.data), "sketches": len(sketches),
             "epsilon": FLAGS.epsilon, "default_backend": simplify.DEFAULT_BACKEND}
  for name, lines in [("stored", stored), ("resampled_1px", resampled)]:
    r = measure(lines, FLAGS.epsilon, FLAGS.repeats)
    results[name] = r
    print(f"{name}: {r['polylines']} polylines, {r['points']} points "
          f"({r['kept_points_rdp']} kept by rdp)")
    for backend, rate in r["points_per_s"].items():
      print(f"  {backend:>15}: {rate:>11,} points/s  {r['speedup_vs_rdp'][backend]:>7.1f}x rdp  "
            f"differs from rdp on {r['polylines_differing_from_rdp'][backend]} polylines")
    print(f"  simplification differences explained by segment distance + last-tie: "
          f"{r['simplification_diffs_explained_by_segment_distance_and_last_tie']} of "
          f"{r['polylines_differing_from_rdp']['simplification']}")
  print(json.dumps(results))


if __name__ == "__main__":
  app.run(main)
