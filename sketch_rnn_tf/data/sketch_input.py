"""Reading the sketches a user hands to the sampler (`--input`), in pixels.

A spec names a file and, where it holds many sketches, which ones:

  FILE.npz[:SPLIT[:I,J,...]]   sketches I, J of a split (default test:0)
  FILE.ndjson[:N,M,...]        Quick, Draw! records on lines N, M (1-based;
                               default the first); raw or simplified, RDP 2.0
  FILE.svg                     the <path> (M/L/H/V/Z commands) and <polyline>
                               elements of an SVG, one stroke each, in document
                               order (what `render` writes, or a drawing tool's
                               export flattened to lines)
  FILE.json                    a stroke-3 list [[dx, dy, pen_lifted], ...]

Every reader returns (name, stroke-3 float32 [L, 3]) pairs; errors name the
file and the record. What a file may make us read is limited (`utils.limits`:
`sketch_file_bytes`, `drawing_points`, `coordinate`), and an SVG with a DTD
(where XML entities, and so "billion laughs" expansion, live) is refused.
"""
from __future__ import annotations

import json
import os
import re
from xml.parsers import expat

import numpy as np

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.utils import limits
from sketch_rnn_tf.utils.errors import InputError


class SketchInputError(InputError):
  """An input spec or file that cannot be read as sketches."""


def _split_spec(spec):
  """'path:a:b' -> (path, ['a', 'b']); a Windows drive letter stays in the path."""
  for ext in (".npz", ".ndjson", ".ndjson.gz", ".svg", ".json"):
    i = spec.find(ext)
    if i >= 0 and (len(spec) == i + len(ext) or spec[i + len(ext)] == ":"):
      path, rest = spec[:i + len(ext)], spec[i + len(ext) + 1:]
      return path, (rest.split(":") if rest else [])
  raise SketchInputError(f"{spec}: unknown kind of input (want .npz, .ndjson, .svg or .json)")


def _indices(text, where):
  try:
    return [int(v) for v in text.split(",") if v.strip()]
  except ValueError:
    raise SketchInputError(f"{where}: indices must be integers, got {text!r}") from None


def _check_size(points, where):
  """Refuses more points than `drawing_points` or coordinates beyond `coordinate`."""
  if len(points) > limits.get("drawing_points"):
    raise SketchInputError(
        f"{where}: {limits.exceeded('drawing_points', 'the point count', len(points))}")
  if not np.all(np.isfinite(points)):
    raise SketchInputError(f"{where}: non-finite values")
  biggest = float(np.abs(points).max()) if points.size else 0.0
  if biggest > limits.get("coordinate"):
    raise SketchInputError(f"{where}: {limits.exceeded('coordinate', 'a coordinate', biggest)}")


def _checked(s3, where):
  try:
    with np.errstate(over="ignore"):  # a float32 overflow becomes inf, refused below
      s3 = np.asarray(s3, np.float32)
  except (TypeError, ValueError, OverflowError) as e:
    raise SketchInputError(f"{where}: not a stroke-3 list of numbers ({e})") from None
  if s3.ndim != 2 or s3.shape[1] != 3:
    raise SketchInputError(f"{where}: a stroke-3 sketch is [L, 3], got shape {s3.shape}")
  _check_size(s3[:, :2], where)
  if not np.isin(s3[:, 2], (0, 1)).all():
    raise SketchInputError(f"{where}: the pen column must be 0 or 1")
  return s3


def _from_npz(path, parts):
  from sketch_rnn_tf.data import npz_io
  split = parts[0] if parts else "test"
  members = npz_io.read_npz(path)
  if split not in members:
    raise SketchInputError(f"{path}: no split {split!r}; it has {sorted(members)}")
  data = members[split]
  out = []
  for i in _indices(parts[1], path) if len(parts) > 1 else [0]:
    if not 0 <= i < len(data):
      raise SketchInputError(f"{path}: {split} has {len(data)} sketches, no index {i}")
    out.append((f"{os.path.basename(path)}:{split}:{i}",
                _checked(data[i], f"{path}:{split}:{i}")))
  return out


def _from_ndjson(path, parts):
  from sketch_rnn_tf.data import ndjson
  wanted = _indices(parts[0], path) if parts else None
  out = {}
  for number, record in ndjson.iter_ndjson(path):
    if wanted is None or number in wanted:
      s3 = ndjson.drawing_to_stroke3(record["drawing"], max_len=None)
      if s3 is None:
        raise SketchInputError(f"{path}:{number}: the drawing has no points")
      out[number] = (f"{os.path.basename(path)}:{number}", s3.astype(np.float32))
      if wanted is None:
        break
  missing = sorted(set(wanted or ()) - set(out))
  if missing or not out:
    raise SketchInputError(f"{path}: no record on line(s) {missing or [1]}")
  return [out[n] for n in (wanted or out)]


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"([A-Za-z])|({_NUMBER})")
_NUMBER_RE = re.compile(_NUMBER)


def _check_token_count(pattern, text, where):
  """Counts an attribute's numbers (and commands) before they are made: a few per point."""
  count = sum(1 for _ in pattern.finditer(text))
  if count > 3 * limits.get("drawing_points"):
    raise SketchInputError(f"{where}: {count:,} numbers and commands, more than three per "
                           f"point for {limits.get('drawing_points'):,.0f} points (set "
                           f"{limits.env_name('drawing_points')} to allow more)")


def _path_polylines(d, where):
  """Polylines from an SVG path's d attribute (straight-line commands only)."""
  lines, line, pos, start, cmd = [], [], np.zeros(2), np.zeros(2), None
  _check_token_count(_TOKEN, d, where)
  tokens = [(c, float(n) if n else None) for c, n in _TOKEN.findall(d)]
  i = 0

  def numbers(k):
    nonlocal i
    vals = [tokens[i + j][1] for j in range(k)] if i + k <= len(tokens) else [None]
    if any(v is None for v in vals):
      raise SketchInputError(f"{where}: path command {cmd!r} needs {k} numbers")
    i += k
    return np.array(vals)

  while i < len(tokens):
    if tokens[i][0]:
      cmd = tokens[i][0]
      i += 1
      if cmd in "Zz":
        if line:
          line.append(start.copy())
          pos = start.copy()
        continue
    elif cmd is None:
      raise SketchInputError(f"{where}: path data starts with a number")
    if cmd in "Mm":
      p = numbers(2) + (pos if cmd == "m" else 0)  # a path's first m is absolute: pos is 0
      if line:
        lines.append(np.array(line))
      line, pos, start = [p], p, p.copy()
      cmd = "L" if cmd == "M" else "l"  # further pairs are line-tos
    elif cmd in "Ll":
      p = numbers(2) + (pos if cmd == "l" else 0)
      line.append(p)
      pos = p
    elif cmd in "HhVv":
      v = numbers(1)[0]
      axis = 0 if cmd in "Hh" else 1
      p = pos.copy()
      p[axis] = v + (pos[axis] if cmd.islower() else 0)
      line.append(p)
      pos = p
    else:
      raise SketchInputError(f"{where}: path command {cmd!r} is not a straight line; "
                             "flatten curves to lines (M, L, H, V, Z) first")
  if line:
    lines.append(np.array(line))
  return lines


def _svg_elements(path):
  """(tag without namespace, attributes) of every element, in document order.

  expat, not ElementTree, so that a document type declaration can be refused
  before any entity in it is defined, let alone expanded.
  """
  elements = []
  parser = expat.ParserCreate(namespace_separator="}")

  def refuse_dtd(*args):
    raise SketchInputError(f"{path}: an SVG with a document type declaration (<!DOCTYPE>) "
                           "is refused: its entities could expand without bound")

  parser.StartDoctypeDeclHandler = refuse_dtd
  parser.EntityDeclHandler = refuse_dtd
  def start(tag, attrs):
    if len(elements) >= limits.get("drawing_points"):
      raise SketchInputError(f"{path}: more elements than the limit of "
                             f"{limits.get('drawing_points'):,.0f} points")
    elements.append((tag.rsplit("}", 1)[-1], attrs))

  parser.StartElementHandler = start
  try:
    parser.Parse(limits.read_file_capped(path, "sketch_file_bytes"), True)
  except expat.ExpatError as e:
    raise SketchInputError(f"{path}: not well-formed XML ({e})") from None
  return elements


def _number_attr(el, key, where):
  try:
    return float(el.get(key, 0))
  except ValueError:
    raise SketchInputError(f"{where}: {key}={el.get(key)!r} is not a number") from None


def _from_svg(path, parts):
  if parts:
    raise SketchInputError(f"{path}: an SVG holds one sketch; no index expected")
  lines = []
  for k, (tag, el) in enumerate(_svg_elements(path)):
    where = f"{path}: <{tag}> #{k}"
    if tag == "path":
      lines.extend(_path_polylines(el.get("d", ""), where))
    elif tag in ("polyline", "polygon"):
      _check_token_count(_NUMBER_RE, el.get("points", ""), where)
      v = [float(x) for x in _NUMBER_RE.findall(el.get("points", ""))]
      if len(v) % 2:
        raise SketchInputError(f"{where}: odd number of coordinates in points")
      pts = np.array(v).reshape(-1, 2)
      lines.append(np.concatenate([pts, pts[:1]]) if tag == "polygon" else pts)
    elif tag == "line":
      lines.append(np.array([[_number_attr(el, "x1", where), _number_attr(el, "y1", where)],
                             [_number_attr(el, "x2", where), _number_attr(el, "y2", where)]]))
  lines = [l for l in lines if len(l)]
  if not lines:
    raise SketchInputError(f"{path}: no <path>, <polyline> or <line> strokes found")
  _check_size(np.concatenate(lines), path)
  s3 = strokes.from_polylines(lines)
  s3[0, :2] = 0  # start at the first point, as recorded sketches do, not at the page's corner
  return [(os.path.basename(path), s3)]


def _from_json(path, parts):
  if parts:
    raise SketchInputError(f"{path}: a .json input holds one sketch; no index expected")
  try:
    data = json.loads(limits.read_file_capped(path, "sketch_file_bytes").decode("utf-8"))
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise SketchInputError(f"{path}: not JSON ({e})") from None
  except RecursionError:
    raise SketchInputError(f"{path}: not a stroke-3 list (nested too deeply)") from None
  return [(os.path.basename(path), _checked(data, path))]


READERS = {".npz": _from_npz, ".ndjson": _from_ndjson, ".ndjson.gz": _from_ndjson,
           ".svg": _from_svg, ".json": _from_json}


def read_sketches(spec):
  """Sketches named by one spec (see the module docstring): [(name, stroke-3)]."""
  path, parts = _split_spec(spec)
  if not os.path.exists(path):
    raise SketchInputError(f"{path}: no such file")
  ext = next(e for e in sorted(READERS, key=len, reverse=True) if path.endswith(e))
  return READERS[ext](path, parts)


def read_all(specs):
  """All sketches of several specs, in order."""
  return [item for spec in specs for item in read_sketches(spec)]


def keep_strokes(s3, count):
  """The first `count` strokes of a sketch (the start of a drawing to complete)."""
  s3 = np.asarray(s3)
  ends = np.flatnonzero(s3[:, 2] > 0)
  if count <= 0 or count >= len(ends):
    return s3
  return s3[:ends[count - 1] + 1]
