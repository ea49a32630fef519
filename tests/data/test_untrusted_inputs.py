"""Inputs that try to exhaust the machine or crash a parser.

Each reader of user files (sketch `.npz`, `.ndjson`, the sampler's SVG and
stroke-3 JSON, `.gen.json`) refuses what is over a limit (`utils.limits`) with
an error naming the file and the record, and the property tests feed every
reader random and mutated inputs: only the reader's documented error type
(an InputError) may come out; a crash, a hang or any other exception fails.
"""
import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sketch_rnn_tf.data import ndjson, npz_io, sketch_input
from sketch_rnn_tf.export import gen_json
from sketch_rnn_tf.testing import FIXTURES, small_gen_json_document
from sketch_rnn_tf.utils.errors import InputError

# ------------------------------------------------------------------ limits


def test_ndjson_line_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
  monkeypatch.setenv("SKETCH_RNN_MAX_NDJSON_LINE_BYTES", "1000")
  path = tmp_path / "long.ndjson"
  good = '{"drawing": [[[0, 10], [0, 10]]]}\n'
  path.write_text(good + '{"drawing": [[[' + "1, " * 2000 + "1], [1]]]}\n")
  with pytest.raises(ndjson.NdjsonError, match=r"long.ndjson:2: the line is longer than the "
                     r"limit of 1,000 characters.*SKETCH_RNN_MAX_NDJSON_LINE_BYTES"):
    list(ndjson.iter_ndjson(str(path)))
  # The same cap applies to an open file handed over, and to a gzip stream.
  with open(path, "rb") as f, pytest.raises(ndjson.NdjsonError, match=":2: the line is longer"):
    list(ndjson.iter_ndjson(f))


def test_ndjson_drawing_limits_name_the_record(tmp_path, monkeypatch):
  monkeypatch.setenv("SKETCH_RNN_MAX_DRAWING_POINTS", "100")
  path = tmp_path / "many.ndjson"
  xs = list(range(60))
  path.write_text(json.dumps({"drawing": [[xs, xs], [xs, xs]]}) + "\n")
  with pytest.raises(ndjson.NdjsonError, match=r"many.ndjson:1: stroke 1: the point count is "
                     r"120, over the limit of 100"):
    list(ndjson.iter_ndjson(str(path)))
  monkeypatch.delenv("SKETCH_RNN_MAX_DRAWING_POINTS")
  with pytest.raises(ndjson.NdjsonError, match=r"stroke 0: x holds 1e\+300, beyond the limit"):
    ndjson.parse_record('{"drawing": [[[0, 1e300], [0, 0]]]}', "x.ndjson:7")


def test_dense_raw_zigzag_is_refused_before_resampling(monkeypatch):
  # 2000 points zigzagging 1000 units across a 2000-unit-tall drawing: scaled to the
  # 255 px box, each of the 1999 segments is 127.5 px long: ~255k resampled points.
  monkeypatch.setenv("SKETCH_RNN_MAX_RESAMPLED_POINTS", "100000")
  xs = [0, 1000] * 1000
  drawing = [[xs, list(range(2000)), list(range(2000))]]
  with pytest.raises(ndjson.NdjsonError, match=r"resampling at 1 px makes a point count that "
                     r"is 25\d,\d\d\d, over the limit of 100,000"):
    ndjson.drawing_to_stroke3(drawing)
  monkeypatch.delenv("SKETCH_RNN_MAX_RESAMPLED_POINTS")
  assert ndjson.drawing_to_stroke3(drawing, max_len=None) is not None  # under the default


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><path d="M0,0 L10,10" id="&lol9;"/></svg>
"""


def test_billion_laughs_svg_is_refused(tmp_path):
  path = tmp_path / "lol.svg"
  path.write_text(BILLION_LAUGHS)
  with pytest.raises(sketch_input.SketchInputError,
                     match=r"lol.svg: an SVG with a document type declaration"):
    sketch_input.read_sketches(str(path))
  # An external entity is a DTD too.
  xxe = tmp_path / "xxe.svg"
  xxe.write_text('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                 '<svg><path d="M0,0 L1,1" id="&x;"/></svg>')
  with pytest.raises(sketch_input.SketchInputError, match="document type declaration"):
    sketch_input.read_sketches(str(xxe))


def test_svg_and_json_absurd_values_are_refused(tmp_path, monkeypatch):
  svg = tmp_path / "far.svg"
  svg.write_text('<svg><polyline points="0,0 1e12,5"/></svg>')
  with pytest.raises(sketch_input.SketchInputError, match=r"far.svg: a coordinate is "
                     r"1,000,000,000,000.0, over the limit"):
    sketch_input.read_sketches(str(svg))
  monkeypatch.setenv("SKETCH_RNN_MAX_DRAWING_POINTS", "10")
  dense = tmp_path / "dense.svg"
  dense.write_text('<svg><path d="M0,0 ' + "L1,1 " * 20 + '"/></svg>')
  with pytest.raises(sketch_input.SketchInputError, match=r"dense.svg: <path> #1: 63 numbers"):
    sketch_input.read_sketches(str(dense))
  monkeypatch.delenv("SKETCH_RNN_MAX_DRAWING_POINTS")
  deep = tmp_path / "deep.json"
  deep.write_text("[" * 100000 + "]" * 100000)
  with pytest.raises(sketch_input.SketchInputError, match=r"deep.json: not a stroke-3 list"):
    sketch_input.read_sketches(str(deep))
  big = tmp_path / "big.json"
  big.write_text("[[1" + "0" * 400 + ", 0, 0]]")
  with pytest.raises(sketch_input.SketchInputError, match="big.json: "):
    sketch_input.read_sketches(str(big))
  monkeypatch.setenv("SKETCH_RNN_MAX_SKETCH_FILE_BYTES", "100")
  with pytest.raises(InputError, match=r"big.json: its size in bytes is 411, over the limit of "
                     r"100.*SKETCH_RNN_MAX_SKETCH_FILE_BYTES"):
    sketch_input.read_sketches(str(big))


# --------------------------------------------------------- property tests

# Each reader gets this many random and mutated inputs under CI (thousands in all).
PROPERTY = settings(max_examples=2000, deadline=5000,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw, seed: bytes):
  """`seed` with a few random byte flips, deletions, insertions, repeats or a truncation."""
  data = bytearray(seed)
  for _ in range(draw(st.integers(1, 6))):
    kind = draw(st.sampled_from(["flip", "delete", "insert", "repeat", "truncate"]))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "flip" and data:
      data[at] = draw(st.integers(0, 255))
    elif kind == "delete":
      del data[at:at + draw(st.integers(1, 16))]
    elif kind == "insert":
      data[at:at] = draw(st.binary(min_size=1, max_size=16))
    elif kind == "repeat":
      data[at:at] = bytes(data[at:at + draw(st.integers(1, 32))]) * draw(st.integers(2, 50))
    else:
      del data[at:]
  return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=60)


def _npy_bytes(array):
  buf = io.BytesIO()
  np.save(buf, array, allow_pickle=True)
  return buf.getvalue()


def _sketches():
  rng = np.random.default_rng(0)
  obj = np.empty(3, dtype=object)
  for i in range(3):
    obj[i] = rng.integers(-30, 30, size=(4 + i, 3)).astype(np.int16)
  return obj


NPY_SEEDS = [_npy_bytes(_sketches()), _npy_bytes(np.arange(12, dtype=np.int16).reshape(4, 3))]


def _write_zip(path, members):
  with zipfile.ZipFile(path, "w") as zf:  # stored, CRCs right: the damage is in the members
    for name, data in members.items():
      zf.writestr(name, data)


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_npz_reader_raises_only_input_errors(tmp_path, data):
  seed = data.draw(st.sampled_from(NPY_SEEDS))
  member = data.draw(mutated(seed) | st.binary(max_size=300))
  path = tmp_path / "fuzz.npz"
  _write_zip(path, {"train.npy": member, "valid.npy": NPY_SEEDS[0], "test.npy": NPY_SEEDS[0]})
  try:
    npz_io.load_npz(path)
  except InputError:
    pass


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_npz_container_damage_raises_only_input_errors(tmp_path, data):
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
    for split in npz_io.SPLITS:
      zf.writestr(f"{split}.npy", NPY_SEEDS[0])
  path = tmp_path / "fuzz.npz"
  path.write_bytes(data.draw(mutated(buf.getvalue())))
  try:
    npz_io.load_npz(path)
  except InputError:
    pass


with open(os.path.join(FIXTURES, "quickdraw_raw.ndjson"), "rb") as _f:
  NDJSON_SEEDS = [line for line in _f.read().splitlines() if line.strip()]
with open(os.path.join(FIXTURES, "quickdraw_simplified.ndjson"), "rb") as _f:
  NDJSON_SEEDS += [line for line in _f.read().splitlines() if line.strip()][:3]


def _convert_line(line: bytes):
  for _, record in ndjson.iter_ndjson([line]):
    ndjson.drawing_to_stroke3(record["drawing"])


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_ndjson_reader_raises_only_ndjson_errors(data):
  line = data.draw(st.sampled_from(NDJSON_SEEDS).flatmap(mutated))
  try:
    _convert_line(line)
  except ndjson.NdjsonError:
    pass


@pytest.mark.slow
@PROPERTY
@given(drawing=json_values | st.lists(st.lists(st.lists(
    st.integers(-2**40, 2**40) | st.floats(-1e12, 1e12), max_size=30), max_size=4), max_size=5))
def test_ndjson_drawings_of_any_shape_raise_only_ndjson_errors(drawing):
  try:
    _convert_line(json.dumps({"drawing": drawing}).encode())
  except ndjson.NdjsonError:
    pass


with open(os.path.join(FIXTURES, "sketch_start.svg"), "rb") as _f:
  SVG_SEED = _f.read()
JSON_SEED = json.dumps([[0, 0, 0], [10, 5, 0], [3, -4, 1], [-8, 2, 0], [1, 1, 1]]).encode()


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_sampler_inputs_raise_only_sketch_input_errors(tmp_path, data):
  ext = data.draw(st.sampled_from([".svg", ".json"]))
  seed = SVG_SEED if ext == ".svg" else JSON_SEED
  content = data.draw(mutated(seed) | st.binary(max_size=200)
                      | json_values.map(lambda v: json.dumps(v).encode()))
  path = tmp_path / f"fuzz{ext}"
  path.write_bytes(content)
  try:
    for _, s3 in sketch_input.read_sketches(str(path)):
      assert s3.ndim == 2 and s3.shape[1] == 3 and np.isfinite(s3).all()
  except InputError:
    pass


GEN_SEED = json.dumps(small_gen_json_document()).encode()


def test_gen_json_seed_is_valid():
  assert gen_json.parse_gen_json(GEN_SEED).weights[3].shape == (4, 16)


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_gen_json_parser_raises_only_gen_json_errors(data):
  content = data.draw(mutated(GEN_SEED) | json_values.map(lambda v: json.dumps(v).encode())
                      | st.tuples(json_values, json_values, json_values).map(
                          lambda t: json.dumps(list(t)).encode()))
  try:
    gen_json.parse_gen_json(content, "fuzz.gen.json")
  except gen_json.GenJsonError:
    pass
