"""Tests of the quickdraw_ndjson builder: generator and Beam paths, on dummy data.

dummy_data/simplified/ and dummy_data/raw/ hold the same drawings (the same
key_ids, line for line) in the two formats: cat (6 lines: one with an empty
drawing, one without key_id) and The Eiffel Tower (3 lines; gzip-compressed
in simplified/, named config-style in raw/). The key_ids were picked so that
the default 2.5%/2.5% hash split gives 5 train, 2 validation and 1 test.
"""
import dataclasses
import gzip
import os
import shutil
from unittest import mock

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_quickdraw  # noqa: F401  (registers the builders)
from sketch_rnn_tf.data import ndjson
from tfds_quickdraw import categories as cats
from tfds_quickdraw.quickdraw_ndjson import quickdraw_ndjson_dataset_builder as qn

DUMMY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data")
SPLITS = {"train": 5, "validation": 2, "test": 1}


class ManualDirTest(tfds.testing.DatasetBuilderTestCase):
  """Generator path, from the manual directory's simplified/ and raw/."""
  DATASET_CLASS = qn.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["simplified", "raw"]
  SPLITS = SPLITS

  def _get_dl_download_result(self, url):
    raise AssertionError(f"downloaded {url} although the manual files exist")


# Beam runs here use the FnApiRunner: apache-beam 2.77's DirectRunner first
# tries the Prism runner, whose binary it downloads from GitHub.
class BeamTest(ManualDirTest):
  """The same builds through the Beam path (use_beam=True)."""

  def _make_builder(self, config=None):
    builder = self.dataset_class(data_dir=self.tmp_dir, config=config,
                                 version=self.VERSION, use_beam=True)
    prepare = builder.download_and_prepare

    def prepare_on_fn_api_runner(*, download_config, **kwargs):
      # The base class passes no runner, which would mean the DirectRunner.
      return prepare(download_config=dataclasses.replace(
          download_config, beam_runner=FnApiRunner()), **kwargs)

    builder.download_and_prepare = prepare_on_fn_api_runner
    return builder


class DownloadTest(tfds.testing.DatasetBuilderTestCase):
  """A category not in the manual directory is downloaded (mocked)."""
  DATASET_CLASS = qn.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = [
      qn.QuickdrawNdjsonConfig(name="simplified_sheep", fmt="simplified",
                               categories=("sheep",))]
  SPLITS = {"train": 1, "validation": 1, "test": 1}
  # The builder downloads {"<fmt>/<category>": url}; the mock returns this.
  DL_EXTRACT_RESULT = {"simplified/sheep": "download/sheep.simplified.ndjson"}
  # The real files' sizes and hashes cannot be recorded offline (README.md).
  SKIP_CHECKSUMS = True


def _config(name="test_config", **kwargs):
  return qn.QuickdrawNdjsonConfig(name=name, **kwargs)


def _build(tmp_path, config="simplified", manual_dir=DUMMY, beam_runner=None,
           use_beam=None):
  builder = tfds.builder("quickdraw_ndjson", config=config, data_dir=str(tmp_path),
                         use_beam=use_beam)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual_dir), beam_runner=beam_runner))
  return builder


def _examples(builder) -> dict[str, dict[str, dict]]:
  """{split: {key_id or word/strokes: example}} as numpy."""
  out = {}
  for split in SPLITS:
    rows = {}
    for ex in tfds.as_numpy(builder.as_dataset(split=split)):
      key = ex["key_id"].decode() or f"{ex['word'].decode()}/{ex['strokes'].tobytes().hex()}"
      rows[key] = ex
    out[split] = rows
  return out


def _expected(fmt: str, **options) -> dict[str, dict]:
  """What the fixtures convert to, straight from sketch_rnn_tf.data.ndjson."""
  out = {}
  for name in sorted(os.listdir(os.path.join(DUMMY, fmt))):
    category = cats.category_from_name(name.split(".")[0])
    for line, record in ndjson.iter_ndjson(os.path.join(DUMMY, fmt, name)):
      strokes = ndjson.drawing_to_stroke3(record["drawing"], fmt=fmt, **options)
      if strokes is None:
        continue
      key = record.get("key_id") or f"{record['word']}/{strokes.tobytes().hex()}"
      identity = record.get("key_id") or f"{category}/{line}"
      out[key] = dict(strokes=strokes, category=category, record=record,
                      split=qn.split_of(identity))
  return out


@pytest.mark.parametrize("fmt", ["simplified", "raw"])
def test_examples_match_direct_conversion(tmp_path, fmt):
  builder = _build(tmp_path, fmt)
  got = _examples(builder)
  want = _expected(fmt)
  assert sorted(k for rows in got.values() for k in rows) == sorted(want)
  label = builder.info.features["label"]
  for split, rows in got.items():
    for key, ex in rows.items():
      w = want[key]
      assert w["split"] == split
      assert ex["strokes"].dtype == np.int16
      np.testing.assert_array_equal(ex["strokes"], w["strokes"])
      assert label.int2str(ex["label"]) == w["category"]
      assert ex["word"].decode() == w["record"]["word"]
      assert ex["countrycode"].decode() == w["record"].get("countrycode", "")
      assert bool(ex["recognized"]) == w["record"]["recognized"]


def test_beam_runner_in_download_config_selects_beam(tmp_path):
  plain = _examples(_build(tmp_path / "plain", "raw"))
  # Beam must not fall back to the generator: make that path fail.
  with mock.patch.object(qn, "_iter_examples", side_effect=AssertionError("not Beam")):
    beamed = _examples(_build(tmp_path / "beam", "raw",
                              beam_runner=FnApiRunner()))
  assert {s: sorted(r) for s, r in beamed.items()} == {s: sorted(r) for s, r in plain.items()}
  for split, rows in plain.items():
    for key, ex in rows.items():
      np.testing.assert_array_equal(beamed[split][key]["strokes"], ex["strokes"])


def test_beam_workers_in_other_processes(tmp_path):
  # Worker processes must unpickle the transforms and import the builder, as
  # on Dataflow; a custom config has to travel with them.
  config = _config(fmt="raw", epsilon=3.0, max_len=12)
  options = PipelineOptions(flags=["--direct_num_workers=2",
                                   "--direct_running_mode=multi_processing"])
  builder = tfds.builder("quickdraw_ndjson", config=config, data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=DUMMY, beam_runner=FnApiRunner(), beam_options=options))
  got = _examples(builder)
  want = _expected("raw", epsilon=3.0, max_len=12)
  assert sorted(k for rows in got.values() for k in rows) == sorted(want)
  for rows in got.values():
    for key, ex in rows.items():
      np.testing.assert_array_equal(ex["strokes"], want[key]["strokes"])


def test_use_beam_false_overrides_a_runner(tmp_path):
  with mock.patch.object(qn, "_beam_examples", side_effect=AssertionError("not plain")):
    builder = _build(tmp_path, "simplified", beam_runner=FnApiRunner(),
                     use_beam=False)
  assert builder.info.splits["train"].num_examples == SPLITS["train"]


def test_tfds_load_with_builder_kwargs(tmp_path):
  ds = tfds.load("quickdraw_ndjson/simplified", split="test", data_dir=str(tmp_path),
                 builder_kwargs={"use_beam": True},
                 download_and_prepare_kwargs={"download_config": tfds.download.DownloadConfig(
                     manual_dir=DUMMY, beam_runner=FnApiRunner())})
  (ex,) = list(tfds.as_numpy(ds))
  assert ex["key_id"] == b"6066373594501918"
  assert not ex["recognized"]


def test_same_drawing_same_split_in_both_formats(tmp_path):
  simplified = _examples(_build(tmp_path / "s", "simplified"))
  raw = _examples(_build(tmp_path / "r", "raw"))
  key_ids = lambda rows: sorted(k for k in rows if k.isdigit())
  for split in SPLITS:
    assert key_ids(simplified[split]) == key_ids(raw[split])


def test_split_of_is_stable_and_proportional():
  # Fixed values: the split of a drawing must never change between releases.
  assert qn.split_of("6281725325741367") == "train"
  assert qn.split_of("4796334565875994") == "validation"
  assert qn.split_of("6066373594501918") == "test"
  splits = [qn.split_of(str(i), 0.1, 0.2) for i in range(20000)]
  assert abs(splits.count("validation") / 20000 - 0.1) < 0.01
  assert abs(splits.count("test") / 20000 - 0.2) < 0.01
  assert all(qn.split_of(str(i), 0, 0) == "train" for i in range(1000))


def test_empty_split_is_explained(tmp_path):
  # Nothing held out: validation (built after train) gets no drawing.
  config = _config(fmt="simplified", validation_fraction=0.0, test_fraction=0.0)
  with pytest.raises(ValueError, match="split 'validation' received no drawings"):
    _build(tmp_path, config)


def test_conversion_options_pass_through(tmp_path):
  config = _config(fmt="raw", epsilon=6.0, max_len=12, long="truncate")
  got = _examples(_build(tmp_path, config))
  want = _expected("raw", epsilon=6.0, max_len=12, long="truncate")
  assert sum(len(rows) for rows in got.values()) == len(want) == 8
  for rows in got.values():
    for key, ex in rows.items():
      assert len(ex["strokes"]) <= 12
      np.testing.assert_array_equal(ex["strokes"], want[key]["strokes"])


def test_long_drop_and_recognized_only_filter(tmp_path):
  # Fractions chosen so that each split keeps one of the 4 remaining drawings.
  config = _config(fmt="simplified", max_len=15, long="drop", recognized_only=True,
                   validation_fraction=0.2, test_fraction=0.1)
  builder = _build(tmp_path, config)
  kept = [ex for rows in _examples(builder).values() for ex in rows.values()]
  want = {k: w for k, w in _expected("simplified", max_len=15, long="drop").items()
          if w["record"]["recognized"]}
  assert len(kept) == len(want) == 4
  assert all(ex["recognized"] and len(ex["strokes"]) <= 15 for ex in kept)


def test_simplified_build_refuses_raw_drawings(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  shutil.copy(os.path.join(DUMMY, "raw", "cat.ndjson"), manual / "cat.ndjson")
  with pytest.raises(ndjson.NdjsonError, match=r"cat\.ndjson:1: a raw drawing"):
    _build(tmp_path / "tfds", "simplified", manual_dir=manual)


def test_drawing_of_another_category_is_refused(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  shutil.copy(os.path.join(DUMMY, "simplified", "cat.ndjson"), manual / "sheep.ndjson")
  with pytest.raises(ndjson.NdjsonError,
                     match=r"sheep\.ndjson:1: a drawing of 'cat' in the file of 'sheep'"):
    _build(tmp_path / "tfds", "simplified", manual_dir=manual)


def test_manual_files_at_the_root_and_categories_filter(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  shutil.copy(os.path.join(DUMMY, "simplified", "cat.ndjson"), manual)
  shutil.copy(os.path.join(DUMMY, "simplified", "The Eiffel Tower.ndjson.gz"), manual)
  (manual / "notes.txt").write_text("not a drawing file")
  config = _config(fmt="simplified", categories=["The Eiffel Tower"],
                   validation_fraction=0.4, test_fraction=0.3)
  builder = _build(tmp_path / "tfds", config, manual_dir=manual)
  words = {ex["word"] for rows in _examples(builder).values() for ex in rows.values()}
  assert words == {b"The Eiffel Tower"}
  assert builder.info.splits.total_num_examples == 3


def test_unknown_file_name_is_an_error(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  shutil.copy(os.path.join(DUMMY, "simplified", "cat.ndjson"), manual / "kitten.ndjson")
  with pytest.raises(ValueError, match=r"kitten\.ndjson: the file name is not one of"):
    _build(tmp_path / "tfds", "simplified", manual_dir=manual)


def test_two_files_for_one_category_is_an_error(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  shutil.copy(os.path.join(DUMMY, "raw", "the_eiffel_tower.ndjson"), manual)
  shutil.copy(os.path.join(DUMMY, "raw", "the_eiffel_tower.ndjson"),
              manual / "The Eiffel Tower.ndjson")
  with pytest.raises(ValueError, match="two files for 'The Eiffel Tower'"):
    _build(tmp_path / "tfds", "raw", manual_dir=manual)


def test_read_ndjson_remote_paths():
  # ram:// goes through tf.io.gfile like gs:// would, plain and gzip.
  local = os.path.join(DUMMY, "simplified", "The Eiffel Tower.ndjson.gz")
  want = list(ndjson.iter_ndjson(local))
  for name, data in [("a.ndjson.gz", open(local, "rb").read()),
                     ("a.ndjson", gzip.decompress(open(local, "rb").read()))]:
    path = f"ram://quickdraw_ndjson_test/{name}"
    with tf.io.gfile.GFile(path, "wb") as f:
      f.write(data)
    assert list(qn.read_ndjson(path)) == want
  bad = "ram://quickdraw_ndjson_test/bad.ndjson"
  with tf.io.gfile.GFile(bad, "wb") as f:
    f.write(b'{"drawing": [[[1, 2], [3, 4]]]}\n{"word": "x"}\n')
  with pytest.raises(ndjson.NdjsonError, match=f"{bad}:2: record has no 'drawing'"):
    list(qn.read_ndjson(bad))


class _NoManualDirDownloads:
  """A DownloadManager stand-in: no manual directory; records what is fetched."""

  @property
  def manual_dir(self):
    raise AssertionError("absent")  # what TFDS raises for a missing manual dir

  def download(self, urls):
    self.urls = urls
    return {key: f"/dl/{key}" for key in urls}


def test_urls_and_configs():
  builder_configs = {c.name: c for c in qn.Builder.BUILDER_CONFIGS}
  assert set(builder_configs) == {"simplified", "raw"}
  dl = _NoManualDirDownloads()
  files = qn._input_files(dl, dataclasses.replace(
      builder_configs["raw"], categories=("The Great Wall of China", "cat")))
  base = "https://storage.googleapis.com/quickdraw_dataset/full/raw/"
  assert dl.urls == {"raw/The Great Wall of China": base + "The%20Great%20Wall%20of%20China.ndjson",
                     "raw/cat": base + "cat.ndjson"}
  assert files == [("The Great Wall of China", "/dl/raw/The Great Wall of China"),
                   ("cat", "/dl/raw/cat")]
  # Without a manual directory or categories, all 345 are downloaded.
  qn._input_files(dl, builder_configs["simplified"])
  assert len(dl.urls) == 345
  assert dl.urls["simplified/t-shirt"] == (
      "https://storage.googleapis.com/quickdraw_dataset/full/simplified/t-shirt.ndjson")


@pytest.mark.parametrize("kwargs, message", [
    (dict(fmt="binary"), "fmt must be one of"),
    (dict(long="wrap"), "long must be one of"),
    (dict(max_len=0), "max_len must be >= 1"),
    (dict(validation_fraction=0.5, test_fraction=0.5), "leave some train"),
    (dict(categories=("cat", "kitten")), r"unknown categories \['kitten'\]"),
])
def test_config_validation(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _config(**kwargs)


def test_builder_resolves_by_name(tmp_path):
  builder = tfds.builder("quickdraw_ndjson/raw", data_dir=str(tmp_path))
  assert isinstance(builder, qn.Builder)
  assert builder.builder_config.fmt == "raw"
  assert builder.info.features["label"].names == list(cats.CATEGORIES)
