"""Safe .npz reading: real files load exactly as numpy loads them; crafted pickles are refused."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from sketch_rnn_tf.data import npz_io


def test_real_file_matches_numpy(sheep_path):
  data = npz_io.load_npz(sheep_path)
  assert {k: len(v) for k, v in data.items()} == {"train": 7400, "valid": 300, "test": 300}
  ref = np.load(sheep_path, allow_pickle=True, encoding="latin1")  # trusted file
  for split in npz_io.SPLITS:
    assert all(np.array_equal(a, b) and a.dtype == np.int16
               for a, b in zip(data[split], ref[split]))


def test_save_load_round_trip(tmp_path):
  rng = np.random.default_rng(0)
  data = {s: [rng.integers(-50, 50, size=(rng.integers(1, 30), 3)).astype(np.int16)
              for _ in range(5)] for s in npz_io.SPLITS}
  path = tmp_path / "x.npz"
  npz_io.save_npz(path, data)
  back = npz_io.load_npz(path)
  for split in npz_io.SPLITS:
    assert all(np.array_equal(a, b) for a, b in zip(back[split], data[split]))
  # Also readable by plain numpy (the format other tools expect).
  assert len(np.load(path, allow_pickle=True)["train"]) == 5
  assert os.listdir(tmp_path) == ["x.npz"]  # no temporary file left behind


class _RunsCode:
  """Unpickling this calls os.system: what a crafted sketch file could do."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def _write_npz_with_pickle(path, payload):
  header = io.BytesIO()
  np.lib.format.write_array_header_1_0(
      header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
  with zipfile.ZipFile(path, "w") as zf:
    for split in npz_io.SPLITS:
      zf.writestr(f"{split}.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + payload)


def test_malicious_pickle_is_refused_without_running(tmp_path):
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.npz"
  _write_npz_with_pickle(path, pickle.dumps(_RunsCode(marker), protocol=2))
  # Sanity check of the crafted file: numpy's own loader would run the code.
  np.load(path, allow_pickle=True)["train"]
  assert marker.exists()
  marker.unlink()
  with pytest.raises(npz_io.UnsafePickleError, match=r"evil\.npz\[train\].*(posix|os)\.system"):
    npz_io.load_npz(path)
  assert not marker.exists()


def test_pickle_of_builtin_eval_is_refused(tmp_path):
  path = tmp_path / "evil2.npz"
  payload = b"\x80\x02cbuiltins\neval\nq\x00X\x05\x00\x00\x001+1+1q\x01\x85q\x02Rq\x03."
  _write_npz_with_pickle(path, payload)
  with pytest.raises(npz_io.UnsafePickleError, match="builtins.eval"):
    npz_io.load_npz(path)


def test_corrupt_and_incomplete_files(tmp_path):
  bad = tmp_path / "bad.npz"
  bad.write_bytes(b"not a zip at all")
  with pytest.raises(ValueError, match="bad.npz: not a readable .npz"):
    npz_io.load_npz(bad)
  partial = tmp_path / "partial.npz"
  np.savez(partial, train=np.zeros((2, 4, 3), np.int16))
  with pytest.raises(ValueError, match=r"missing split\(s\) \['valid', 'test'\]"):
    npz_io.load_npz(partial)
  truncated = tmp_path / "truncated.npz"
  good = tmp_path / "good.npz"
  npz_io.save_npz(good, {s: [np.ones((300, 3), np.int16)] for s in npz_io.SPLITS})
  with zipfile.ZipFile(good) as zin, zipfile.ZipFile(truncated, "w") as zout:
    for name in zin.namelist():
      zout.writestr(name, zin.read(name)[:-200])
  with pytest.raises(ValueError, match=r"truncated.npz\[\w+\]: cannot read"):
    npz_io.load_npz(truncated)


def test_regular_numeric_arrays_load(tmp_path):
  path = tmp_path / "dense.npz"
  arr = np.arange(2 * 4 * 3, dtype=np.int16).reshape(2, 4, 3)
  np.savez(path, train=arr, valid=arr, test=arr)
  data = npz_io.load_npz(path)
  np.testing.assert_array_equal(data["train"][1], arr[1])
