"""Loading sketch files into labelled, filtered, scaled splits."""
import numpy as np
import pytest

from sketch_rnn_tf.data import datasets, npz_io, validation


def _write(path, n=(6, 2, 2), length=10, seed=0, bad=None):
  rng = np.random.default_rng(seed)
  data = {}
  for split, count in zip(npz_io.SPLITS, n):
    data[split] = [np.concatenate([rng.integers(-20, 20, (length, 2)),
                                   (rng.random((length, 1)) < 0.2)], axis=1).astype(np.int16)
                   for _ in range(count)]
  if bad is not None:
    split, index, record = bad
    data[split][index] = record
  npz_io.save_npz(path, data)
  return data


def test_sheep_counts_and_scale_factor(sheep_path):
  data = datasets.load_npz_files([sheep_path])
  assert {k: len(v) for k, v in data.splits.items()} == {"train": 7400, "valid": 300, "test": 300}
  assert data.class_names == ["aaron_sheep"]
  raw = np.load(sheep_path, allow_pickle=True, encoding="latin1")["train"]
  offsets = np.concatenate([np.asarray(s, np.float64)[:, :2].ravel() for s in raw])
  assert data.scale_factor == pytest.approx(offsets.std(), rel=1e-12)
  assert data.scale_factor == pytest.approx(18.5198, abs=1e-4)
  assert data.max_len == 250


def test_several_files_get_labels_and_one_scale(tmp_path):
  a = _write(tmp_path / "cat.npz", seed=1)
  b = _write(tmp_path / "dog.full.npz", n=(3, 1, 1), seed=2)
  data = datasets.load_npz_files([tmp_path / "cat.npz", tmp_path / "dog.full.npz"])
  assert data.class_names == ["cat", "dog"]
  assert data["train"].labels.tolist() == [0] * 6 + [1] * 3
  assert data["valid"].labels.tolist() == [0, 0, 1]
  all_train = a["train"] + b["train"]
  expected = np.concatenate([s[:, :2].astype(np.float64).ravel() for s in all_train]).std()
  assert data.scale_factor == pytest.approx(expected, rel=1e-12)


def test_bad_record_raise_or_drop(tmp_path):
  path = tmp_path / "bad.npz"
  _write(path, bad=("valid", 1, np.array([[1, 2, 7]], np.int16)))
  with pytest.raises(validation.SketchDataError, match=r"bad.npz: split 'valid', sketch 1: pen value 7"):
    datasets.load_npz_files([path])
  data = datasets.load_npz_files([path], on_error="drop")
  assert len(data["valid"]) == 1 and len(data.report.invalid) == 1


def test_long_sketches_dropped_and_counted(tmp_path):
  path = tmp_path / "long.npz"
  _write(path, bad=("train", 0, np.zeros((300, 3), np.int16)))
  data = datasets.load_npz_files([path], max_len=250)
  assert len(data["train"]) == 5 and data.report.too_long["train"] == 1
  assert len(datasets.load_npz_files([path], max_len=None)["train"]) == 6


def test_no_training_data_is_an_error(tmp_path):
  path = tmp_path / "short.npz"
  _write(path, n=(2, 1, 1), length=5)
  with pytest.raises(ValueError, match="no training sketches"):
    datasets.load_npz_files([path], max_len=3)


def test_tfds_route_matches_the_npz_route(sheep_path, tmp_path):
  """quickdraw_sketch_rnn/sheep built offline from a manual dir gives the same data."""
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / "sheep.npz").symlink_to(sheep_path)
  via_tfds = datasets.load_tfds(["quickdraw_sketch_rnn/sheep"], data_dir=str(tmp_path / "tfds"),
                                manual_dir=str(manual))
  via_npz = datasets.load_npz_files([sheep_path])
  assert via_tfds.scale_factor == pytest.approx(via_npz.scale_factor, rel=1e-12)
  assert len(via_tfds.class_names) == 345
  sheep_id = via_tfds.class_names.index("sheep")
  for split in datasets.SPLITS:
    a, b = via_tfds[split], via_npz[split]
    assert len(a) == len(b) and (a.labels == sheep_id).all()
    assert all(np.array_equal(x, y) for x, y in zip(a.sketches, b.sketches))


def test_tfds_download_without_a_network_fails_at_once_with_what_to_do(tmp_path, monkeypatch):
  import socket
  import time

  from sketch_rnn_tf.utils.errors import InputError

  def no_dns(host, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

  monkeypatch.setattr(socket, "getaddrinfo", no_dns)
  start = time.time()
  with pytest.raises(InputError) as e:
    datasets.load_tfds(["quickdraw_sketch_rnn/cat"], data_dir=str(tmp_path))
  assert time.time() - start < 30
  message = str(e.value)
  assert "quickdraw_sketch_rnn/cat" in message and "storage.googleapis.com" in message
  assert "--data=FILE.npz" in message and "--manual_dir" in message
