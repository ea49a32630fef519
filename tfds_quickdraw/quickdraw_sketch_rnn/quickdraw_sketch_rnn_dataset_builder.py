"""quickdraw_sketch_rnn: the Quick, Draw! sketch-rnn `.npz` files as TFDS.

One config per category (`cat`, `the_eiffel_tower`, ...) reads
`sketchrnn/<category>.npz` (70,000/2,500/2,500 sketches), and a `<name>_full`
config reads `sketchrnn/<category>.full.npz` (the category's full data).
Each example is a stroke-3 int16 [L, 3] array and the category's ClassLabel
over all 345 names, in `quickdraw_bitmap`'s label order.
"""
from __future__ import annotations

import dataclasses
import tempfile
import zipfile

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from sketch_rnn_tf.data import npz_io, validation
from tensorflow_datasets.core.utils.lazy_imports_utils import tensorflow as tf
from tfds_quickdraw import categories as cats

_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/"
_HOMEPAGE = ("https://github.com/googlecreativelab/quickdraw-dataset"
             "#sketch-rnn-quickdraw-dataset")
# TFDS split name -> member of the .npz.
_SPLITS = {"train": "train", "validation": "valid", "test": "test"}


@dataclasses.dataclass(eq=False)
class QuickdrawSketchRnnConfig(tfds.core.BuilderConfig):
  """One category's sketch file: `<category>.npz`, or `.full.npz` if `full`."""
  category: str = ""
  full: bool = False

  @property
  def suffix(self) -> str:
    return ".full.npz" if self.full else ".npz"

  @property
  def file_name(self) -> str:
    return self.category + self.suffix

  @property
  def url(self) -> str:
    return _BASE_URL + cats.url_name(self.category) + self.suffix


def _make_config(category: str, full: bool) -> QuickdrawSketchRnnConfig:
  name = cats.config_name(category) + ("_full" if full else "")
  what = ("the full data (the .full.npz file), RDP-simplified" if full else
          "70,000/2,500/2,500 RDP-simplified drawings")
  return QuickdrawSketchRnnConfig(
      name=name, category=category, full=full,
      description=f"'{category}': {what}.")


class Builder(tfds.core.GeneratorBasedBuilder):
  """Quick, Draw! sketches in stroke-3 format, one config per category."""

  DOWNLOAD_BASE = _BASE_URL   # where download_and_prepare fetches from

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [_make_config(c, full) for c in cats.CATEGORIES
                     for full in (False, True)]
  # The manual directory is optional: a file found there replaces the download,
  # which is how offline machines (and tests) build the dataset.
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Optional. To build without downloading, put the category's sketch file in
  the manual directory (`--manual_dir` of `tfds build`, or
  `tfds.download.DownloadConfig(manual_dir=...)`), named as in the bucket
  (`cat.npz`, `The Eiffel Tower.full.npz`) or after the config
  (`the_eiffel_tower.npz`). Files are at
  https://storage.googleapis.com/quickdraw_dataset/sketchrnn/<category>.npz and
  .../<category>.full.npz. Without such a file the builder downloads it.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "strokes": tfds.features.Tensor(shape=(None, 3), dtype=np.int16),
            "label": tfds.features.ClassLabel(names=list(cats.CATEGORIES)),
        }),
        supervised_keys=("strokes", "label"),
        homepage=_HOMEPAGE,
        # Keeps the file's order, so example i of a split is sketch i of the
        # .npz member: results stay comparable with the reference code.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    path = _manual_file(dl_manager, config)
    downloaded = path is None
    if downloaded:
      # Keyed by file name so the test's mocked download can serve several
      # configs from one mapping.
      path = dl_manager.download({config.file_name: config.url})[config.file_name]
    path = str(path)
    data = load_npz(path)
    if downloaded:
      verify_published_format(path, data, f"{path} (downloaded from {config.url})")
    return {
        split: self._generate_examples(sketches=data[member], source=path, split=member)
        for split, member in _SPLITS.items()
    }

  def _generate_examples(self, sketches, source: str, split: str):
    category = self.builder_config.category
    for index, sketch in enumerate(sketches):
      yield index, {
          "strokes": checked_stroke3(sketch, source, split, index),
          "label": category,
      }


def _manual_file(dl_manager, config: QuickdrawSketchRnnConfig) -> epath.Path | None:
  """The config's file in the manual directory, if the user put one there."""
  try:
    manual_dir = dl_manager.manual_dir
  except AssertionError:  # TFDS's way of saying: absent or empty
    return None
  for stem in (config.category, cats.config_name(config.category)):
    path = epath.Path(manual_dir) / (stem + config.suffix)
    if path.exists():
      return path
  return None


def load_npz(path: str) -> dict[str, list[np.ndarray]]:
  """npz_io.load_npz (the safe unpickler) for local and remote (gs://) paths."""
  if "://" not in path:
    return npz_io.load_npz(path)
  # npz_io reads through zipfile, which needs a local file: stage a copy.
  with tempfile.TemporaryDirectory() as tmp:
    local = str(epath.Path(tmp) / "sketches.npz")
    tf.io.gfile.copy(path, local)
    return npz_io.load_npz(local)


def verify_published_format(path: str, data: dict[str, list[np.ndarray]],
                            source: str) -> None:
  """Raises ValueError unless the local file `path`, read as `data`, is shaped
  like the published files.

  checksums.tsv has no recorded hashes until a maintainer registers them (see
  README), so a downloaded file is checked for what every published sketch-rnn
  file has: exactly the members train/valid/test, none empty, every record an
  int16 [L, 3] array. A proxy's error page, a truncated or substituted file
  fails here (or in npz_io) instead of becoming a dataset. Files from the
  manual directory may be hand-made (other dtypes, extra members) and are only
  checked record by record.
  """
  with zipfile.ZipFile(path) as zf:  # npz_io has read it: a valid zip
    members = sorted(zf.namelist())
  expected = sorted(f"{m}.npy" for m in _SPLITS.values())
  if members != expected:
    raise ValueError(f"{source}: members {members}; a published sketch-rnn file has "
                     f"exactly {expected}")
  for split, sketches in data.items():
    if not sketches:
      raise ValueError(f"{source}: split '{split}' is empty")
    for index, sketch in enumerate(sketches):
      if not (isinstance(sketch, np.ndarray) and sketch.dtype == np.int16
              and sketch.ndim == 2 and sketch.shape[1] == 3):
        what = (f"{sketch.dtype} array of shape {sketch.shape}"
                if isinstance(sketch, np.ndarray) else type(sketch).__name__)
        raise ValueError(f"{source}: split '{split}', sketch {index}: a {what}; the "
                         "published files hold int16 [L, 3] arrays")


def checked_stroke3(sketch, source: str, split: str, index: int) -> np.ndarray:
  """The record as int16 [L, 3], checked as every loader checks records.

  A bad record raises `validation.SketchDataError` (a ValueError) naming the
  file, split and index. Numeric records with integer values in range (hand-made
  files often hold int32/int64 or floats) are cast to int16.
  """
  problem = validation.sketch_problem(sketch)
  if problem is not None:
    raise validation.SketchDataError([validation.Problem(source, split, index, problem)])
  return sketch.astype(np.int16)
