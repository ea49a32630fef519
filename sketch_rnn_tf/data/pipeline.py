"""tf.data input pipeline: in-memory sketches -> batches of stroke-5.

Each element is a dict:
  strokes: float32 [B, T + 1, 5]  start token, the sketch, then end tokens
  lengths: int32 [B]              points in each sketch (without start/end rows)
  labels:  int32 [B]              class ids
  index:   int64 [B]              position in the split (only with_index=True)

Bucketing. Sketches of similar length share a batch: lengths are cut into
`num_buckets` buckets at quantiles of the length distribution; every epoch
each bucket is shuffled and cut into batches, and the order of all batches is
shuffled. A batch is padded to its longest sketch plus one end row
(pad="longest"), to its bucket's upper bound plus one (pad="bucket": few
distinct shapes, for XLA), or to a fixed N (pad=N: the paper's N_max form).
Random batches padded to their own longest sketch still pad to ~250 steps,
which is why bucketing, not per-batch padding alone, saves the work.

Determinism and resuming. The batches of epoch e come from a generator seeded
with (seed, DATA_ORDER, e) and the augmentation of batch k from (seed, AUGMENTATION, e, k)
(`utils.streams`), so a run is
reproducible and `start_batch` resumes the exact sequence mid-epoch.
Batches are assembled in numpy (one code path for augmentation, tested
against float64 references) and handed to tf.data with prefetching.
"""
from __future__ import annotations

import itertools
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from sketch_rnn_tf.data import augment, strokes
from sketch_rnn_tf.data.datasets import SketchSet
from sketch_rnn_tf.utils import streams
from sketch_rnn_tf.utils.errors import InputError


def bucket_boundaries(lengths: np.ndarray, num_buckets: int = 10,
                      multiple: int = 8) -> np.ndarray:
  """Inclusive upper length bounds of `num_buckets` equally filled buckets.

  Bounds are quantiles rounded up to a multiple of `multiple` (duplicates
  merged); the last bound covers the longest sketch.
  """
  lengths = np.asarray(lengths)
  if len(lengths) == 0:
    raise ValueError("no sketches to bucket")
  qs = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:])
  bounds = np.unique(np.ceil(qs / multiple).astype(np.int64) * multiple)
  bounds[-1] = max(bounds[-1], lengths.max())
  return bounds


def epoch_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                  boundaries: np.ndarray | None, drop_remainder: bool = False
                  ) -> list[tuple[np.ndarray, int]]:
  """One epoch: a list of (indices, bucket upper bound or -1).

  rng None keeps the file order (evaluation). Without boundaries there is a
  single bucket, i.e. plain (shuffled) batching.
  """
  n = len(lengths)
  if boundaries is None:
    groups = [(np.arange(n), -1)]
  else:
    bucket_of = np.searchsorted(boundaries, lengths, side="left")
    groups = [(np.flatnonzero(bucket_of == b), int(boundaries[b]))
              for b in range(len(boundaries))]
  batches = []
  for idx, bound in groups:
    if rng is not None:
      idx = rng.permutation(idx)
    for start in range(0, len(idx), batch_size):
      chunk = idx[start:start + batch_size]
      if drop_remainder and len(chunk) < batch_size:
        continue
      batches.append((chunk, bound))
  if rng is not None:
    batches = [batches[i] for i in rng.permutation(len(batches))]
  return batches


def batch_stream(lengths: np.ndarray, batch_size: int, *, shuffle: bool = True,
                 boundaries: np.ndarray | None = None, seed: int = 0,
                 epochs: int | None = None, drop_remainder: bool = False,
                 start_batch: int = 0, num_shards: int = 1, shard_index: int = 0
                 ) -> Iterator[tuple[int, int, np.ndarray, int]]:
  """Yields (epoch, batch number in the run, indices, bucket bound) forever or for `epochs`.

  Batch numbers count over the whole run (all shards); with `num_shards` > 1
  this stream yields the batches whose number % num_shards == shard_index.
  """
  counter = itertools.count()
  for epoch in (range(epochs) if epochs is not None else itertools.count()):
    rng = np.random.default_rng(streams.numpy_seed(seed, streams.DATA_ORDER, epoch)) if shuffle else None
    for indices, bound in epoch_batches(lengths, batch_size, rng, boundaries, drop_remainder):
      k = next(counter)
      if k < start_batch or k % num_shards != shard_index:
        continue
      yield epoch, k, indices, bound


def pad_batch(sequences: Sequence[np.ndarray], length: int) -> np.ndarray:
  """stroke-3 sequences -> float32 [B, length + 1, 5] with start and end rows."""
  out = np.zeros((len(sequences), length + 1, 5), dtype=np.float32)
  for i, s in enumerate(sequences):
    out[i] = strokes.to_stroke5(s, length, start_token=True)
  return out


def assemble_batch(sketch_set: SketchSet, indices: np.ndarray, scale_factor: float,
                   rng: np.random.Generator | None = None, random_scale: float = 0.0,
                   drop_prob: float = 0.0, pad: str | int = "longest", bound: int = -1,
                   drop_rule: str = "reference") -> dict[str, np.ndarray]:
  """Normalises, augments and pads the sketches at `indices`."""
  seqs = []
  for i in indices:
    s = strokes.normalize(sketch_set.sketches[i], scale_factor)
    if rng is not None:
      s = augment.augment(s, rng, random_scale, drop_prob, drop_rule)
    seqs.append(s)
  lengths = np.array([len(s) for s in seqs], dtype=np.int32)
  if pad == "longest" or (pad == "bucket" and bound < 0):
    length = int(lengths.max()) + 1
  elif pad == "bucket":
    length = bound + 1
  elif isinstance(pad, (int, np.integer)):
    if lengths.max() > pad:
      raise ValueError(f"a sketch has {lengths.max()} points, more than pad={pad}")
    length = int(pad)
  else:
    raise ValueError(f"pad must be 'longest', 'bucket' or an int, not {pad!r}")
  return {
      "strokes": pad_batch(seqs, length),
      "lengths": lengths,
      "labels": sketch_set.labels[indices],
      "index": np.asarray(indices, dtype=np.int64),
  }


def make_dataset(sketch_set: SketchSet, scale_factor: float, batch_size: int = 100, *,
                 shuffle: bool = True, seed: int = 0, epochs: int | None = None,
                 random_scale: float = 0.0, drop_prob: float = 0.0,
                 drop_rule: str = "reference", bucket: bool = True, num_buckets: int = 10,
                 boundaries: Sequence[int] | None = None, pad: str | int = "longest",
                 drop_remainder: bool = False, start_batch: int = 0,
                 num_shards: int = 1, shard_index: int = 0,
                 with_index: bool = False) -> tf.data.Dataset:
  """A tf.data.Dataset of stroke-5 batches from one split.

  Training: shuffle=True, random_scale=0.15, drop_prob=0.10 (the reference's
  augmentation), epochs=None (repeat). Evaluation: shuffle=False, no
  augmentation, epochs=1, pad=N_max for the paper's exact cost. See the
  module docstring for bucketing, determinism and resuming.
  """
  if len(sketch_set) == 0:
    raise ValueError("cannot make batches from an empty split")
  lengths = sketch_set.lengths
  # Checked here, not in the generator, where errors surface as opaque op errors.
  if not isinstance(pad, str) and lengths.max() > pad:
    raise ValueError(f"a sketch has {lengths.max()} points, more than pad={pad}")
  if bucket:
    bounds = (np.asarray(sorted(boundaries)) if boundaries is not None
              else bucket_boundaries(lengths, num_buckets))
    if lengths.max() > bounds[-1]:
      raise ValueError(f"a sketch has {lengths.max()} points, above the last bucket "
                       f"bound {bounds[-1]}")
  else:
    bounds = None
  if drop_remainder and len(epoch_batches(lengths, batch_size, None, bounds, True)) < num_shards:
    # Otherwise the repeating stream (or a shard of it) would search for a full batch forever.
    where = f" in any of {len(bounds)} length buckets" if bounds is not None else ""
    raise InputError(f"no full batch of {batch_size} from {len(lengths)} sketches{where}: "
                     "lower batch_size" + (" or num_buckets" if bounds is not None else ""))
  augmenting = random_scale > 0 or drop_prob > 0

  def generate():
    for epoch, k, indices, bound in batch_stream(
        lengths, batch_size, shuffle=shuffle, boundaries=bounds, seed=seed, epochs=epochs,
        drop_remainder=drop_remainder, start_batch=start_batch, num_shards=num_shards,
        shard_index=shard_index):
      rng = (np.random.default_rng(streams.numpy_seed(seed, streams.AUGMENTATION, epoch, k))
             if augmenting else None)
      batch = assemble_batch(sketch_set, indices, scale_factor, rng, random_scale,
                             drop_prob, pad, bound, drop_rule)
      if not with_index:
        del batch["index"]
      yield batch

  batch_dim = batch_size if drop_remainder else None
  signature = {
      "strokes": tf.TensorSpec([batch_dim, None, 5], tf.float32),
      "lengths": tf.TensorSpec([batch_dim], tf.int32),
      "labels": tf.TensorSpec([batch_dim], tf.int32),
  }
  if with_index:
    signature["index"] = tf.TensorSpec([batch_dim], tf.int64)
  ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
  return ds.prefetch(tf.data.AUTOTUNE)
