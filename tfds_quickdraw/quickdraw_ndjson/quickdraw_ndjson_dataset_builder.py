"""quickdraw_ndjson: stroke-3 sketches built from Quick, Draw! `.ndjson` files.

Reads the `simplified` or `raw` drawings (the official `full/<fmt>/<category>
.ndjson` files, or the user's own in the same format) and converts each with
`sketch_rnn_tf.data.ndjson.drawing_to_stroke3`. Drawings are split into train,
validation and test by a hash of their `key_id`, so the split of a drawing
does not depend on the runner, the file order or the format.

Generation runs as a plain Python generator by default, or as an Apache Beam
pipeline (for the full 50M-drawing set on Dataflow, Flink or Spark) when a Beam
runner or Beam options are given in the DownloadConfig, or with `use_beam=True`.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import logging
from typing import Iterator

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from sketch_rnn_tf.data import ndjson
from tensorflow_datasets.core.utils.lazy_imports_utils import tensorflow as tf
from tfds_quickdraw import categories as cats

_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full/"
_HOMEPAGE = "https://github.com/googlecreativelab/quickdraw-dataset"
FORMATS = ("simplified", "raw")
_EXTENSIONS = (".ndjson.gz", ".ndjson")
_BEAM_NAMESPACE = "quickdraw_ndjson"


@dataclasses.dataclass(eq=False)
class QuickdrawNdjsonConfig(tfds.core.BuilderConfig):
  """What to read and how to convert it.

  Attributes:
    fmt: "simplified" or "raw": the official file set to download, and the
      format `drawing_to_stroke3` is told the drawings are in.
    epsilon: RDP tolerance in pixels, passed to `drawing_to_stroke3`. It
      applies to raw drawings, and to simplified ones only with `resimplify`.
    resimplify: run RDP on simplified drawings too (they come simplified with
      epsilon 2.0 already).
    max_len: longest sketch in points (None: no limit), passed through.
    long: what to do with longer sketches, "truncate" or "drop", passed through.
    categories: the categories to build (names as in Quick, Draw!). None: every
      file in the manual directory, or all 345 downloaded if it has none.
    recognized_only: keep only drawings the game recognised.
    validation_fraction, test_fraction: shares of the hash range given to
      those splits; the rest is train.
  """
  fmt: str = "simplified"
  epsilon: float = 2.0
  resimplify: bool = False
  max_len: int | None = 250
  long: str = "truncate"
  categories: tuple[str, ...] | None = None
  recognized_only: bool = False
  validation_fraction: float = 0.025
  test_fraction: float = 0.025

  def __post_init__(self):
    if self.fmt not in FORMATS:
      raise ValueError(f"config {self.name}: fmt must be one of {FORMATS}, not {self.fmt!r}")
    if self.long not in ndjson.LONG_POLICIES:
      raise ValueError(f"config {self.name}: long must be one of {ndjson.LONG_POLICIES}, "
                       f"not {self.long!r}")
    if self.max_len is not None and self.max_len < 1:
      raise ValueError(f"config {self.name}: max_len must be >= 1 or None, not {self.max_len}")
    fractions = (self.validation_fraction, self.test_fraction)
    if min(fractions) < 0 or sum(fractions) >= 1:
      raise ValueError(f"config {self.name}: validation and test fractions must be >= 0 "
                       f"and leave some train, got {fractions}")
    if self.categories is not None:
      self.categories = tuple(self.categories)
      unknown = [c for c in self.categories if c not in cats.CATEGORIES]
      if unknown:
        raise ValueError(f"config {self.name}: unknown categories {unknown}; "
                         "use the Quick, Draw! names (tfds_quickdraw.categories.CATEGORIES)")


def split_of(identity: str, validation_fraction: float = 0.025,
             test_fraction: float = 0.025) -> str:
  """"train", "validation" or "test" for a drawing, from its key_id alone.

  sha256 (not Python's salted `hash`) makes the choice the same in every
  process, on every runner and in every format of the same drawing.
  """
  digest = hashlib.sha256(identity.encode("utf-8")).digest()
  u = int.from_bytes(digest[:8], "big") / 2.0**64
  if u < test_fraction:
    return "test"
  if u < test_fraction + validation_fraction:
    return "validation"
  return "train"


def _identity(category: str, line: int, record: dict) -> str:
  key_id = record.get("key_id")
  # Drawings without a key_id (a user's own files) fall back to their place.
  return str(key_id) if key_id not in (None, "") else f"{category}/{line}"


class _NamedLines:
  """An open stream's lines, with the `name` that iter_ndjson's messages use."""

  def __init__(self, stream, name: str):
    self._stream = stream
    self.name = name

  def __iter__(self):
    return iter(self._stream)

  def readline(self, size=-1):  # lets iter_ndjson cap each line's length
    return self._stream.readline(size)


class _RawGFile(io.RawIOBase):
  """A GFile as a raw stream: GFile.readline takes no size, BufferedReader's does."""

  def __init__(self, gfile):
    self._gfile = gfile

  def readable(self):
    return True

  def readinto(self, buffer):
    data = self._gfile.read(len(buffer))
    buffer[:len(data)] = data
    return len(data)


def read_ndjson(path: str) -> Iterator[tuple[int, dict]]:
  """ndjson.iter_ndjson for local and remote (gs://, ...) `.ndjson[.gz]` files."""
  if "://" not in path:
    yield from ndjson.iter_ndjson(path)
    return
  # iter_ndjson opens paths with the builtin open, so a remote file is handed
  # over as an open stream; gzip is told by its magic bytes, as iter_ndjson does.
  with tf.io.gfile.GFile(path, "rb") as f:
    compressed = f.read(2) == b"\x1f\x8b"
    f.seek(0)
    stream = (gzip.GzipFile(fileobj=f, mode="rb") if compressed
              else io.BufferedReader(_RawGFile(f), 1 << 20))
    yield from ndjson.iter_ndjson(_NamedLines(stream, path))


def _records_in_split(item: tuple[str, str], split: str, config: QuickdrawNdjsonConfig
                      ) -> Iterator[tuple[str, str, int, dict]]:
  """(category, file name, line, record) of one file's drawings in `split`."""
  category, path = item
  name = epath.Path(path).name
  for line, record in read_ndjson(path):
    if split_of(_identity(category, line, record), config.validation_fraction,
                config.test_fraction) == split:
      yield category, name, line, record


def _to_example(category: str, file_name: str, line: int, record: dict,
                config: QuickdrawNdjsonConfig):
  """(key, example) for one record, or None if it is filtered out or dropped.

  iter_ndjson has checked the record's JSON and drawing.
  """
  where = f"{file_name}:{line}"
  # As in ndjson.convert_ndjson: a record without the field is unrecognised.
  if config.recognized_only and record.get("recognized") is not True:
    return None
  word = record.get("word")
  if word is not None and word != category:
    # Every record of a published file names the file's category; another word
    # means a substituted or mixed file (no checksums are recorded to catch it).
    raise ndjson.NdjsonError(f"{where}: a drawing of {word!r} in the file of {category!r}")
  drawing = record["drawing"]
  if config.fmt == "simplified" and ndjson.detect_format(drawing) == "raw":
    # Converting it as simplified would keep screen coordinates unscaled.
    raise ndjson.NdjsonError(f"{where}: a raw drawing (times, or coordinates outside "
                             "integers 0..255) in a 'simplified' build; use fmt='raw'")
  try:
    strokes = ndjson.drawing_to_stroke3(
        drawing, fmt=config.fmt, epsilon=config.epsilon, resimplify=config.resimplify,
        max_len=config.max_len, long=config.long)
  except ndjson.NdjsonError as e:
    raise ndjson.NdjsonError(f"{where}: {e}") from None
  if strokes is None:  # no points, or too long under long='drop'
    return None
  key_id = record.get("key_id")
  return f"{cats.config_name(category)}/{line}", {
      "strokes": strokes,
      "label": category,
      "key_id": "" if key_id is None else str(key_id),
      "countrycode": str(record.get("countrycode") or ""),
      "recognized": record.get("recognized") is True,
      "word": str(record.get("word") or category),
  }


def _iter_examples(files, split: str, config: QuickdrawNdjsonConfig):
  """The generator path: every file in turn, in this process."""
  kept = dropped = 0
  for item in files:
    for category, name, line, record in _records_in_split(item, split, config):
      example = _to_example(category, name, line, record, config)
      if example is None:
        dropped += 1
        continue
      kept += 1
      yield example
  logging.info("quickdraw_ndjson %s: %d drawings kept, %d filtered or dropped",
               split, kept, dropped)
  if not kept:
    # TFDS would fail later with "No examples were yielded"; say why here.
    raise ValueError(
        f"split '{split}' received no drawings ({dropped} filtered or dropped) from "
        f"{len(files)} file(s): with few drawings, raise the config's "
        "validation_fraction/test_fraction or add drawings")


def _beam_convert(element, config: QuickdrawNdjsonConfig):
  """Beam FlatMap body: the example, or nothing (counted) for a dropped record."""
  from apache_beam.metrics import Metrics
  example = _to_example(*element, config)
  if example is None:
    Metrics.counter(_BEAM_NAMESPACE, "dropped_drawings").inc()
    return []
  Metrics.counter(_BEAM_NAMESPACE, "examples").inc()
  return [example]


def _beam_examples(files, split: str, config: QuickdrawNdjsonConfig):
  """The Beam path: a PTransform (root -> (key, example)) for one split.

  Files are read whole by one worker each (splitting a gzip stream is not
  possible anyway); the reshuffle then spreads the conversion, the costly part,
  over all workers.
  """
  beam = tfds.core.lazy_imports.apache_beam
  return (
      "Files" >> beam.Create(list(files))
      | "ReadSplit" >> beam.FlatMap(_records_in_split, split=split, config=config)
      | "Reshuffle" >> beam.Reshuffle()
      | "Convert" >> beam.FlatMap(_beam_convert, config=config))


class Builder(tfds.core.GeneratorBasedBuilder):
  """Quick, Draw! drawings from .ndjson files, as stroke-3."""

  DOWNLOAD_BASE = _BASE_URL   # where download_and_prepare fetches from

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      QuickdrawNdjsonConfig(
          name="simplified", fmt="simplified",
          description="From the simplified drawings (already scaled to 0-255 and "
          "RDP-simplified with epsilon 2.0 by Google)."),
      QuickdrawNdjsonConfig(
          name="raw", fmt="raw",
          description="From the raw drawings (screen coordinates and timings), "
          "scaled and RDP-simplified here."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Optional. Put `<category>.ndjson` or `<category>.ndjson.gz` files (Quick,
  Draw! names, e.g. `cat.ndjson`, `The Eiffel Tower.ndjson.gz`, or config-style
  `the_eiffel_tower.ndjson`) in the manual directory, or in its `simplified/`
  or `raw/` subdirectory (used for the config of that name when it exists).
  With `categories=None`, exactly the files found are built; with `categories`
  set, a category's file is taken from there if present, else downloaded from
  https://storage.googleapis.com/quickdraw_dataset/full/<fmt>/<category>.ndjson.
  """

  def __init__(self, *, use_beam: bool | None = None, **kwargs):
    """`use_beam`: True/False forces the Beam/generator path; None (default)
    uses Beam when the DownloadConfig names a beam_runner or beam_options."""
    super().__init__(**kwargs)
    self._use_beam = use_beam
    self._original_state["use_beam"] = use_beam  # so pickling keeps it
    self._generate_with_beam = bool(use_beam)

  def download_and_prepare(self, *, download_config=None, **kwargs):
    beam_requested = download_config is not None and (
        download_config.beam_runner is not None or download_config.beam_options is not None)
    self._generate_with_beam = beam_requested if self._use_beam is None else self._use_beam
    return super().download_and_prepare(download_config=download_config, **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "strokes": tfds.features.Tensor(shape=(None, 3), dtype=np.int16),
            "label": tfds.features.ClassLabel(names=list(cats.CATEGORIES)),
            "key_id": tfds.features.Text(),
            "countrycode": tfds.features.Text(),
            "recognized": tfds.features.Scalar(dtype=np.bool_),
            "word": tfds.features.Text(),
        }),
        supervised_keys=("strokes", "label"),
        homepage=_HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    files = _input_files(dl_manager, self.builder_config)
    return {split: self._generate_examples(files=files, split=split)
            for split in ("train", "validation", "test")}

  def _generate_examples(self, files, split: str):
    # The config travels to Beam workers by pickle: a plain dataclass.
    if self._generate_with_beam:
      return _beam_examples(files, split, self.builder_config)
    return _iter_examples(files, split, self.builder_config)


def _manual_files(dl_manager, fmt: str) -> dict[str, epath.Path]:
  """{category: path} of the .ndjson[.gz] files in the manual directory."""
  try:
    manual_dir = epath.Path(dl_manager.manual_dir)
  except AssertionError:  # TFDS's way of saying: absent or empty
    return {}
  root = manual_dir / fmt if (manual_dir / fmt).is_dir() else manual_dir
  found = {}
  for path in sorted(root.iterdir()):
    ext = next((e for e in _EXTENSIONS if path.name.endswith(e)), None)
    if ext is None:
      continue
    category = cats.category_from_name(path.name[:-len(ext)])
    if category is None:
      raise ValueError(f"{path}: the file name is not one of the 345 Quick, Draw! "
                       "categories (see tfds_quickdraw.categories.CATEGORIES)")
    if category in found:
      raise ValueError(f"two files for '{category}': {found[category]} and {path}")
    found[category] = path
  return found


def _input_files(dl_manager, config: QuickdrawNdjsonConfig) -> list[tuple[str, str]]:
  """Sorted (category, path) pairs: manual files, downloading what is missing."""
  manual = _manual_files(dl_manager, config.fmt)
  if config.categories is None:
    wanted = sorted(manual) if manual else list(cats.CATEGORIES)
  else:
    wanted = list(config.categories)
  files = {c: manual[c] for c in wanted if c in manual}
  # Keyed "<fmt>/<category>" so one mocked download in the tests serves both
  # configs.
  urls = {f"{config.fmt}/{c}": f"{_BASE_URL}{config.fmt}/{cats.url_name(c)}.ndjson"
          for c in wanted if c not in manual}
  if urls:
    downloaded = dl_manager.download(urls)
    files.update({c: downloaded[f"{config.fmt}/{c}"] for c in wanted if c not in manual})
  # Strings, not Paths: they travel to Beam workers.
  return [(c, str(files[c])) for c in sorted(files)]
