"""Sketch collections in memory: loading, checking, filtering and scaling.

Files (sketch `.npz`, or a TFDS dataset such as `quickdraw_sketch_rnn/cat`) are
read into a `SketchData`: for each split a `SketchSet` of int16 stroke-3 arrays
with class labels. Several files load as one labelled collection, each file a
class, for class-conditional models. The normalising scale factor is computed
from the training split after filtering, as the paper does, and travels with
the data (and later the model) so that samples can be turned back to pixels.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import urllib.parse
from typing import Sequence

import numpy as np

from sketch_rnn_tf.data import npz_io, strokes, validation
from sketch_rnn_tf.utils.errors import InputError

SPLITS = npz_io.SPLITS
# TFDS split names for our train/valid/test.
TFDS_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


@dataclasses.dataclass
class SketchSet:
  """One split: stroke-3 int16 arrays and their integer class labels."""
  sketches: list[np.ndarray]
  labels: np.ndarray  # [N] int32

  def __post_init__(self):
    self.labels = np.asarray(self.labels, dtype=np.int32)
    if len(self.labels) != len(self.sketches):
      raise ValueError(f"{len(self.sketches)} sketches but {len(self.labels)} labels")

  def __len__(self):
    return len(self.sketches)

  @property
  def lengths(self) -> np.ndarray:
    return np.array([len(s) for s in self.sketches], dtype=np.int32)

  @classmethod
  def concat(cls, sets: Sequence["SketchSet"]) -> "SketchSet":
    sketches = [s for part in sets for s in part.sketches]
    labels = np.concatenate([part.labels for part in sets]) if sets else []
    return cls(sketches, labels)


@dataclasses.dataclass
class LoadReport:
  """What loading found: per source and split, records dropped and why."""
  invalid: list[validation.Problem] = dataclasses.field(default_factory=list)
  too_long: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SketchData:
  """All splits of a (possibly multi-class) sketch collection."""
  splits: dict[str, SketchSet]
  class_names: list[str]
  scale_factor: float
  report: LoadReport

  def __getitem__(self, split: str) -> SketchSet:
    return self.splits[split]

  @property
  def max_len(self) -> int:
    return int(max(s.lengths.max() for s in self.splits.values() if len(s)))


def _class_name(path: str) -> str:
  name = os.path.basename(path)
  for suffix in (".full.npz", ".npz"):
    if name.endswith(suffix):
      return name[:-len(suffix)]
  return name


def _finish(raw: dict[str, list[SketchSet]], class_names: list[str], report: LoadReport,
            max_len: int | None, clamp: float | None) -> SketchData:
  splits = {}
  for split, parts in raw.items():
    merged = SketchSet.concat(parts)
    kept, index = validation.filter_sketches(merged.sketches, max_len, clamp)
    report.too_long[split] = len(merged) - len(kept)
    splits[split] = SketchSet(kept, merged.labels[index])
  if not len(splits.get("train", [])):
    raise InputError("no training sketches left after checking and filtering")
  factor = strokes.scale_factor(splits["train"].sketches)
  return SketchData(splits, class_names, factor, report)


def load_npz_files(paths: Sequence[str], max_len: int | None = validation.DEFAULT_MAX_LEN,
                   clamp: float | None = validation.DEFAULT_CLAMP, on_error: str = "raise",
                   splits: Sequence[str] = SPLITS) -> SketchData:
  """Loads one or more sketch `.npz` files; file i gets label i.

  on_error: "raise" (default) stops at bad records with a SketchDataError that
  names file, split and index; "drop" skips them and lists them in the report.
  Sketches longer than `max_len` are dropped (counted in the report); offsets
  are clamped to +-`clamp`.
  """
  if isinstance(paths, (str, os.PathLike)):
    paths = [paths]
  if not paths:
    raise InputError("no sketch files given")
  report = LoadReport()
  raw = {split: [] for split in splits}
  for label, path in enumerate(paths):
    data = npz_io.load_npz(path, splits)
    for split in splits:
      good, problems = validation.validate_split(data[split], path, split, on_error)
      report.invalid.extend(problems)
      raw[split].append(SketchSet(good, np.full(len(good), label)))
  return _finish(raw, [_class_name(os.fspath(p)) for p in paths], report, max_len, clamp)


def _check_reachable(builder, name):
  """Fails at once, with what to do instead, when the download host does not resolve:
  TFDS would retry for minutes and then print a raw NameResolutionError."""
  host = urllib.parse.urlparse(getattr(builder, "DOWNLOAD_BASE", "")).hostname
  if not host:
    return
  try:
    socket.getaddrinfo(host, 443)
  except socket.gaierror as e:
    raise InputError(
        f"{name}: cannot download from {host} ({e.strerror or e}); without a network, train "
        "on a local file (--data=FILE.npz) or build from local <category>.npz files "
        "(--manual_dir=DIR)") from None


def load_tfds(names: Sequence[str], data_dir: str | None = None,
              manual_dir: str | None = None,
              max_len: int | None = validation.DEFAULT_MAX_LEN,
              clamp: float | None = validation.DEFAULT_CLAMP, on_error: str = "raise",
              download: bool = True, splits: Sequence[str] = SPLITS) -> SketchData:
  """Loads TFDS sketch datasets (e.g. "quickdraw_sketch_rnn/cat") into memory.

  Labels are the datasets' own ClassLabel ids, so several categories of
  `quickdraw_sketch_rnn` share one label space (the 345 Quick, Draw! names).
  `manual_dir` holds local `<category>.npz` files to build from offline.
  """
  import tensorflow_datasets as tfds
  import tfds_quickdraw  # noqa: F401  (registers the builders)

  if isinstance(names, str):
    names = [names]
  report = LoadReport()
  raw = {split: [] for split in splits}
  class_names = None
  for name in names:
    builder = tfds.builder(name, data_dir=data_dir)
    if download and not manual_dir and not builder.is_prepared():
      _check_reachable(builder, name)
    if download:
      builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
          manual_dir=manual_dir) if manual_dir else None)
    class_names = class_names or list(builder.info.features["label"].names)
    for split in splits:
      records, labels = [], []
      for example in tfds.as_numpy(builder.as_dataset(split=TFDS_SPLITS[split])):
        records.append(example["strokes"])
        labels.append(example["label"])
      good, problems = validation.validate_split(records, name, split, on_error)
      report.invalid.extend(problems)
      bad = {p.index for p in problems}
      labels = [l for i, l in enumerate(labels) if i not in bad]
      raw[split].append(SketchSet(good, np.asarray(labels, dtype=np.int32)))
  return _finish(raw, class_names, report, max_len, clamp)
