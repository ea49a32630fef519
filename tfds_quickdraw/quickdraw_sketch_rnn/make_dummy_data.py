"""Writes the small `.npz` files under dummy_data/ that the tests build from.

Run from the repository root: `python -m tfds_quickdraw.quickdraw_sketch_rnn.make_dummy_data`.
The sketches are seeded random walks (5 train, 2 valid, 3 test per file), each
file with its own seed so a test can tell which file a config read.

dummy_data/download/ holds what the mocked download returns (the bucket's file
names); dummy_data/manual/ is a manual directory, with one file named the
bucket's way and one named after its config.
"""
from __future__ import annotations

import os

import numpy as np

from sketch_rnn_tf.data import npz_io

COUNTS = {"train": 5, "valid": 2, "test": 3}
FILES = {
    "download/cat.npz": 1,
    "download/cat.full.npz": 2,
    "download/The Eiffel Tower.npz": 3,
    "manual/cat.npz": 4,
    "manual/the_eiffel_tower.full.npz": 5,
}


def random_sketch(rng: np.random.Generator) -> np.ndarray:
  """A stroke-3 int16 sketch of 1-3 strokes of 2-8 points each."""
  strokes = []
  for _ in range(rng.integers(1, 4)):
    n = int(rng.integers(2, 9))
    points = np.zeros((n, 3), dtype=np.int16)
    points[:, 0:2] = rng.integers(-30, 31, size=(n, 2))
    points[-1, 2] = 1
    strokes.append(points)
  return np.concatenate(strokes)


def main():
  root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data")
  for name, seed in FILES.items():
    rng = np.random.default_rng(seed)
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    npz_io.save_npz(path, {split: [random_sketch(rng) for _ in range(n)]
                           for split, n in COUNTS.items()})
    print("wrote", path)


if __name__ == "__main__":
  main()
