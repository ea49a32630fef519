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


# ---------------------------------------------------------------- memory bounds

# Peak RSS from VmHWM: ru_maxrss survives fork+exec on Linux, so a child of
# pytest (TensorFlow loaded) would report the parent's peak.
_RSS_PROBE = r"""
import sys
from sketch_rnn_tf.data import npz_io
from sketch_rnn_tf.utils.errors import InputError
try:
  npz_io.load_npz(sys.argv[1])
  print("LOADED")
except InputError as e:
  print("REFUSED", e)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print("RSS_MB", int(hwm.split()[1]) / 1024)
"""


def _probe(path, **env):
  import subprocess
  import sys
  r = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(path)], capture_output=True,
                     text=True, timeout=300, env=dict(os.environ, **env))
  assert r.returncode == 0, r.stderr[-2000:]
  rss = float(r.stdout.rsplit("RSS_MB", 1)[1])
  return r.stdout, rss


def _write_inflating(path, size, declared=None):
  """An object-array member of `size` bytes (a valid header, then zeros), deflated."""
  header = io.BytesIO()
  np.lib.format.write_array_header_1_0(
      header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
  chunk = bytes(16 << 20)
  with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
    with zf.open("train.npy", "w") as f:
      f.write(b"\x93NUMPY\x01\x00" + header.getvalue()[8:])
      for _ in range(size // len(chunk)):
        f.write(chunk)
  if declared is not None:  # lie about the size in the local and central headers
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
      at = raw.index(signature)
      raw[at + offset:at + offset + 4] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(raw))


@pytest.mark.slow
def test_member_inflating_past_the_limit_is_refused_in_small_memory(tmp_path):
  # 1.1 GiB of zeros deflate to ~1 MB; the default limit is 1 GiB.
  path = tmp_path / "bomb.npz"
  _write_inflating(path, 1100 << 20)
  assert path.stat().st_size < 20 << 20
  out, rss = _probe(path)
  assert "REFUSED" in out and "bomb.npz" in out and "SKETCH_RNN_MAX_NPZ_BYTES" in out, out
  assert rss < 300, f"peak RSS {rss:.0f} MB while refusing"
  # A zip that declares 64 KB but inflates to 1.1 GiB: zipfile stops at the declared size,
  # so the pickle is cut short (or the CRC fails) and memory stays small.
  liar = tmp_path / "liar.npz"
  _write_inflating(liar, 1100 << 20, declared=65536)
  out, rss = _probe(liar)
  assert "REFUSED" in out and "liar.npz[train]" in out, out
  assert rss < 300, f"peak RSS {rss:.0f} MB while refusing"


def test_limit_is_an_option(tmp_path, monkeypatch, sheep_path):
  monkeypatch.setenv("SKETCH_RNN_MAX_NPZ_BYTES", "1e6")
  with pytest.raises(ValueError, match=r"aaron_sheep.npz: the uncompressed size.*over the "
                     r"limit of 1,000,000.*SKETCH_RNN_MAX_NPZ_BYTES"):
    npz_io.load_npz(sheep_path)
  monkeypatch.setenv("SKETCH_RNN_MAX_NPZ_BYTES", "1e8")
  assert len(npz_io.load_npz(sheep_path)["train"]) == 7400


def _npy_member(path, header, body):
  buf = io.BytesIO()
  np.lib.format.write_array_header_1_0(buf, header)
  with zipfile.ZipFile(path, "w") as zf:
    for split in npz_io.SPLITS:
      zf.writestr(f"{split}.npy", b"\x93NUMPY\x01\x00" + buf.getvalue()[8:] + body)


def test_header_declaring_more_than_the_member_holds(tmp_path):
  path = tmp_path / "huge_shape.npz"
  _npy_member(path, {"descr": "<i2", "fortran_order": False, "shape": (10**12, 3)}, b"\0" * 60)
  with pytest.raises(ValueError, match=r"huge_shape.npz\[train\]: the header declares "
                     r"3,000,000,000,000 values"):
    npz_io.load_npz(path)


def _pickle_ops(*ops):
  return b"\x80\x02" + b"".join(ops) + b"."


# Hand-written pickles (protocol 2) of what numpy's own pickles contain, with bad arguments.
_RECON = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
_DT_O = b"cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb"
_DT_I2 = (b"cnumpy\ndtype\nU\x02i2K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff"
          b"\xffK\x00tb")


def _array_pickle(shape_ops, dtype_ops, data_ops):
  """_reconstruct(ndarray, (0,), 'b') then BUILD (1, shape, dtype, False, data)."""
  return _pickle_ops(_RECON, b"K\x00\x85U\x01b\x87R", b"(K\x01", shape_ops, dtype_ops,
                     b"\x89", data_ops, b"tb")


def test_numpys_own_pickle_layout_is_what_the_helpers_write(tmp_path):
  # The hand-written pickle of a 2-item int16 array loads as numpy would load it.
  path = tmp_path / "hand.npz"
  body = _array_pickle(b"K\x02\x85", _DT_I2, b"U\x04\x01\x00\x02\x00")
  _npy_member(path, {"descr": "|O", "fortran_order": False, "shape": (1,)}, body)
  np.testing.assert_array_equal(npz_io.read_npz(path)["train"], [1, 2])
  assert np.array_equal(pickle.loads(body), [1, 2])


@pytest.mark.parametrize("shape_ops, dtype_ops, data_ops, message", [
    # An object array whose list is shorter than its shape: numpy's __setstate__
    # crashes the interpreter on this; we refuse it.
    (b"J\x00\xe1\xf5\x05\x85", _DT_O, b"](K\x01K\x02e", r"object array of 100000000 items holds 2"),
    # 10^12 objects asked for by a few bytes.
    (b"\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85", _DT_O, b"]", r"more than the limit of"),
    # int16 data that does not fill the declared shape.
    (b"K\x05\x85", _DT_I2, b"U\x02\x01\x00", r"holds 2 bytes, not 10"),
    # A negative dimension.
    (b"J\xff\xff\xff\xff\x85", _DT_I2, b"U\x00", r"bad shape \(-1,\)"),
])
def test_crafted_array_pickles_are_refused(tmp_path, shape_ops, dtype_ops, data_ops, message):
  path = tmp_path / "crafted.npz"
  _npy_member(path, {"descr": "|O", "fortran_order": False, "shape": (1,)},
              _array_pickle(shape_ops, dtype_ops, data_ops))
  with pytest.raises(ValueError, match=r"crafted.npz\[train\]: .*" + message):
    npz_io.load_npz(path)


def test_memo_references_cannot_multiply_an_array(tmp_path, monkeypatch):
  # One 1 MB int16 array, referenced 2000 times from an object array: 2 GB if each
  # reference became a copy.
  inner = _array_pickle(b"J\x00\x00\x08\x00\x85", _DT_I2, b"T\x00\x00\x10\x00" + bytes(1 << 20))
  inner = inner[2:-1] + b"q\x01"  # drop PROTO/STOP, memoize as 1
  outer = _pickle_ops(_RECON, b"K\x00\x85U\x01b\x87R", b"(K\x01", b"M\xd0\x07\x85", _DT_O,
                      b"\x89", b"]", inner, b"a", b"(" + b"h\x01" * 1999 + b"e", b"tb")
  path = tmp_path / "memo.npz"
  _npy_member(path, {"descr": "|O", "fortran_order": False, "shape": (1,)}, outer)
  monkeypatch.setenv("SKETCH_RNN_MAX_NPZ_BYTES", str(200 << 20))
  with pytest.raises(ValueError, match=r"memo.npz\[train\]\[\d+\]: the pickle asks for more"):
    npz_io.load_npz(path)
