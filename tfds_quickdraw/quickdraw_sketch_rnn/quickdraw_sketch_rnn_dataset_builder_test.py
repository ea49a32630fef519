"""Tests of the quickdraw_sketch_rnn builder (dummy data; the real sheep file)."""
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_quickdraw  # noqa: F401  (registers the builders)
from sketch_rnn_tf.data import npz_io
from tfds_quickdraw import categories as cats
from tfds_quickdraw.quickdraw_sketch_rnn import quickdraw_sketch_rnn_dataset_builder as qsr

DUMMY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data")
TFDS_SPLITS = {"train": "train", "validation": "valid", "test": "test"}


class DownloadTest(tfds.testing.DatasetBuilderTestCase):
  """Builds from the (mocked) download: dummy_data/download/."""
  DATASET_CLASS = qsr.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["cat", "cat_full", "the_eiffel_tower"]
  SPLITS = {"train": 5, "validation": 2, "test": 3}
  # The builder downloads {file name: url}; the mock returns this mapping.
  DL_EXTRACT_RESULT = {
      "cat.npz": "download/cat.npz",
      "cat.full.npz": "download/cat.full.npz",
      "The Eiffel Tower.npz": "download/The Eiffel Tower.npz",
  }
  # The real files' sizes and hashes cannot be recorded offline (README.md);
  # the builder checks a download's structure instead (tests below).
  SKIP_CHECKSUMS = True


class ManualDirTest(tfds.testing.DatasetBuilderTestCase):
  """Builds from a manual directory (dummy_data/manual/); nothing is downloaded."""
  DATASET_CLASS = qsr.Builder
  # cat.npz is named the bucket's way, the_eiffel_tower.full.npz the config's.
  BUILDER_CONFIG_NAMES_TO_TEST = ["cat", "the_eiffel_tower_full"]
  SPLITS = {"train": 5, "validation": 2, "test": 3}
  EXAMPLE_DIR = os.path.join(DUMMY, "manual")

  def _get_dl_download_result(self, url):
    raise AssertionError(f"downloaded {url} although the manual file exists")


def _build(config, data_dir, manual_dir=None):
  builder = tfds.builder(f"quickdraw_sketch_rnn/{config}", data_dir=str(data_dir))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=None if manual_dir is None else str(manual_dir)))
  return builder


def _assert_matches_npz(builder, npz_path, category):
  """Every split holds the file's sketches, in the file's order, with the label."""
  expected = npz_io.load_npz(npz_path)
  label = builder.info.features["label"].str2int(category)
  for split, member in TFDS_SPLITS.items():
    got = list(tfds.as_numpy(builder.as_dataset(split=split)))
    assert len(got) == len(expected[member])
    for ex, want in zip(got, expected[member]):
      assert ex["strokes"].dtype == np.int16
      np.testing.assert_array_equal(ex["strokes"], want)
      assert ex["label"] == label


def test_configs_are_valid_tfds_names():
  names = [c.name for c in qsr.Builder.BUILDER_CONFIGS]
  assert len(names) == len(set(names)) == 2 * 345
  assert all(re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", n) for n in names)
  by_name = {c.name: c for c in qsr.Builder.BUILDER_CONFIGS}
  assert by_name["t_shirt"].category == "t-shirt"
  assert by_name["the_eiffel_tower_full"].category == "The Eiffel Tower"
  assert by_name["the_eiffel_tower_full"].full


def test_urls_are_quoted():
  by_name = {c.name: c for c in qsr.Builder.BUILDER_CONFIGS}
  base = "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/"
  assert by_name["cat"].url == base + "cat.npz"
  assert by_name["cat_full"].url == base + "cat.full.npz"
  assert by_name["the_great_wall_of_china"].url == base + "The%20Great%20Wall%20of%20China.npz"
  assert by_name["t_shirt_full"].url == base + "t-shirt.full.npz"


def test_builder_resolves_by_name(tmp_path):
  builder = tfds.builder("quickdraw_sketch_rnn/sheep", data_dir=str(tmp_path))
  assert builder.builder_config.category == "sheep"
  assert not builder.builder_config.full
  assert isinstance(builder, qsr.Builder)


def test_labels_agree_with_quickdraw_bitmap(tmp_path):
  bitmap = tfds.builder("quickdraw_bitmap", data_dir=str(tmp_path))
  ours = tfds.builder("quickdraw_sketch_rnn/cat", data_dir=str(tmp_path))
  assert ours.info.features["label"].names == bitmap.info.features["label"].names
  assert ours.info.features["label"].names == list(cats.CATEGORIES)


def test_categories_match_quickdraw_list(shared_data):
  with open(os.path.join(shared_data, "quickdraw_categories.txt"), encoding="utf-8") as f:
    names = {line.strip() for line in f if line.strip()}
  assert set(cats.CATEGORIES) == names


@pytest.mark.shared
def test_sheep_from_manual_dir(shared_data, tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  os.symlink(os.path.join(shared_data, "aaron_sheep.npz"), manual / "sheep.npz")
  builder = _build("sheep", tmp_path / "tfds", manual)
  splits = builder.info.splits
  assert {s: splits[s].num_examples for s in TFDS_SPLITS} == {
      "train": 7400, "validation": 300, "test": 300}
  _assert_matches_npz(builder, manual / "sheep.npz", "sheep")


def test_tfds_load_with_manual_dir(tmp_path):
  ds = tfds.load(
      "quickdraw_sketch_rnn/the_eiffel_tower_full", split="test", data_dir=str(tmp_path),
      as_supervised=True,
      download_and_prepare_kwargs={"download_config": tfds.download.DownloadConfig(
          manual_dir=os.path.join(DUMMY, "manual"))})
  expected = npz_io.load_npz(os.path.join(DUMMY, "manual", "the_eiffel_tower.full.npz"))
  got = list(tfds.as_numpy(ds))
  assert len(got) == 3
  for (strokes, label), want in zip(got, expected["test"]):
    np.testing.assert_array_equal(strokes, want)
    assert cats.CATEGORIES[label] == "The Eiffel Tower"


def test_manual_file_wins_over_the_download(tmp_path):
  builder = _build("cat", tmp_path / "tfds", os.path.join(DUMMY, "manual"))
  _assert_matches_npz(builder, os.path.join(DUMMY, "manual", "cat.npz"), "cat")


def test_bad_record_names_file_split_and_index(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  good = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int16)
  npz_io.save_npz(manual / "cat.npz", {
      "train": [good], "valid": [good, good[:, :2]], "test": [good]})
  with pytest.raises(ValueError, match=r"cat\.npz: split 'valid', sketch 1: .*shape \(2, 2\)"):
    _build("cat", tmp_path / "tfds", manual)


def test_load_npz_remote_path():
  # ram:// goes through tf.io.gfile like gs:// would.
  local = os.path.join(DUMMY, "download", "cat.npz")
  remote = "ram://quickdraw_sketch_rnn_test/cat.npz"
  tf.io.gfile.copy(local, remote, overwrite=True)
  got, want = qsr.load_npz(remote), npz_io.load_npz(local)
  for member in want:
    assert len(got[member]) == len(want[member])
    for a, b in zip(got[member], want[member]):
      np.testing.assert_array_equal(a, b)


def test_missing_split_is_an_error(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  npz_io.save_npz(manual / "cat.npz", {"train": [np.zeros((2, 3))], "test": []})
  with pytest.raises(ValueError, match=r"missing split\(s\) \['valid'\]"):
    _build("cat", tmp_path / "tfds", manual)


@pytest.mark.parametrize("sketch, message", [
    (np.full((4, 3), 0.5, dtype=np.float32), "non-integer value"),
    (np.zeros((4,), dtype=np.int16), r"shape \(4,\)"),
    (np.array([[40000, 0, 1]], dtype=np.int32), "absurd offset"),
    (np.array([[1, 0, 3]], dtype=np.int32), "pen value 3"),
    (np.zeros((0, 3), dtype=np.int16), "empty sketch"),
    ([[0, 0, 1]], "not an array"),
])
def test_checked_stroke3_rejects(sketch, message):
  with pytest.raises(ValueError, match=r"f\.npz: split 'train', sketch 7: .*" + message):
    qsr.checked_stroke3(sketch, "f.npz", "train", 7)


def test_checked_stroke3_casts_integers_that_fit():
  out = qsr.checked_stroke3(np.array([[300, -4, 1]], dtype=np.int64), "f", "train", 0)
  assert out.dtype == np.int16
  np.testing.assert_array_equal(out, [[300, -4, 1]])


def test_manual_file_named_as_in_the_bucket(tmp_path):
  manual = tmp_path / "m"
  manual.mkdir()
  shutil.copy(os.path.join(DUMMY, "download", "The Eiffel Tower.npz"), manual)
  builder = _build("the_eiffel_tower", tmp_path / "tfds", manual)
  _assert_matches_npz(builder, manual / "The Eiffel Tower.npz", "The Eiffel Tower")


# ------------------------------------------------ what a download is checked for


def _build_from_download(tmp_path, served):
  """Builds `cat` with the download replaced by the file `served`."""
  from unittest import mock
  with mock.patch.object(tfds.download.DownloadManager, "download",
                         lambda self, urls: {k: str(served) for k in urls}):
    return _build("cat", tmp_path / "tfds")


def test_download_must_be_a_sketch_file(tmp_path):
  page = tmp_path / "cat.npz"
  page.write_text("<html><body>Service Unavailable</body></html>")
  with pytest.raises(ValueError, match=r"cat\.npz: not a readable \.npz file"):
    _build_from_download(tmp_path, page)


@pytest.mark.parametrize("members, message", [
    ({"train": 1, "valid": 1, "test": 1, "extra": 1}, r"members \['extra.npy', 'test.npy'"),
    ({"train": 1, "valid": 0, "test": 1}, "split 'valid' is empty"),
])
def test_download_must_have_the_published_members(tmp_path, members, message):
  good = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int16)
  served = tmp_path / "served.npz"
  npz_io.save_npz(served, {name: [good] * n for name, n in members.items()})
  with pytest.raises(ValueError, match=r"served\.npz \(downloaded from https://storage"
                     r"\.googleapis\.com/quickdraw_dataset/sketchrnn/cat\.npz\): " + message):
    _build_from_download(tmp_path, served)


def test_download_must_hold_int16_records(tmp_path):
  # A hand-made file of int32 records builds from the manual directory, but the
  # published files hold int16: a download of int32 records is not one of them.
  served = tmp_path / "served.npz"
  records = np.empty(1, dtype=object)
  records[0] = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int32)
  np.savez(served, train=records, valid=records, test=records)
  with pytest.raises(ValueError, match=r"split 'train', sketch 0: a int32 array of shape "
                     r"\(2, 3\); the published files hold int16"):
    _build_from_download(tmp_path, served)
  manual = tmp_path / "manual"
  manual.mkdir()
  shutil.copy(served, manual / "cat.npz")
  builder = _build("cat", tmp_path / "tfds2", manual)
  assert builder.info.splits["train"].num_examples == 1
