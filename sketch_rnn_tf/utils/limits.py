"""The most that one input may make us read or allocate.

Every reader of user files checks what a file declares (a zip member's size, a
header's shape, a line's length, a drawing's point count) against these limits
before it allocates, so a small crafted file cannot exhaust the machine's
memory and a server that streams forever is cut off. Each limit is set well
above what real files reach:

| limit | default | what real files reach |
|---|---|---|
| `npz_bytes` | 1 GiB | a Quick, Draw! `.full.npz`, uncompressed: ~150 MB for the largest categories (~300k sketches x ~500 bytes) |
| `gen_json_bytes` | 128 MiB | a published 1024-unit `.gen.json`: ~11 MB; 2048 units would be ~45 MB |
| `fetch_seconds` | 300 | a `.gen.json` download: seconds |
| `ndjson_line_bytes` | 16 MiB | one raw Quick, Draw! record: tens of KB |
| `drawing_points` | 1,000,000 | a raw drawing: thousands of points |
| `resampled_points` | 4,000,000 | a raw drawing resampled at 1 px in a 255 px box: thousands |
| `sketch_file_bytes` | 16 MiB | an SVG or stroke-3 `.json` of one sketch: KB |
| `coordinate` | 1e9 | screen pixels: thousands |

A user whose data is larger sets the environment variable
`SKETCH_RNN_MAX_<NAME>` (e.g. `SKETCH_RNN_MAX_NPZ_BYTES=4e9`), read at
each use, so tests and long-running servers can change it.
"""
from __future__ import annotations

import os

from sketch_rnn_tf.utils.errors import InputError

DEFAULTS = {
    "npz_bytes": 1 << 30,
    "gen_json_bytes": 128 << 20,
    "fetch_seconds": 300,
    "ndjson_line_bytes": 16 << 20,
    "drawing_points": 1_000_000,
    "resampled_points": 4_000_000,
    "sketch_file_bytes": 16 << 20,
    "coordinate": 1e9,
}


def env_name(name: str) -> str:
  return f"SKETCH_RNN_MAX_{name.upper()}"


def get(name: str) -> float:
  """The limit `name`: the environment's override or the default."""
  text = os.environ.get(env_name(name))
  if text is None:
    return DEFAULTS[name]
  try:
    value = float(text)
  except ValueError:
    raise InputError(f"{env_name(name)}={text!r}: not a number") from None
  if not value > 0:
    raise InputError(f"{env_name(name)}={text!r}: must be positive")
  return value


def exceeded(name: str, what: str, value) -> str:
  """The sentence an error ends with when `value` is over the limit `name`."""
  return (f"{what} is {value:,}, over the limit of {get(name):,.0f} "
          f"(set {env_name(name)} to allow more)")


def check(name: str, value, where: str, what: str) -> None:
  """Raises InputError naming `where` when value > the limit `name`."""
  if value > get(name):
    raise InputError(f"{where}: {exceeded(name, what, value)}")


def read_capped(f, name: str, where: str, what: str = "the file") -> bytes:
  """All of a binary stream, refused as soon as it passes the limit `name`."""
  cap = int(get(name))
  data = f.read(cap + 1)
  if len(data) > cap:
    raise InputError(f"{where}: {what} is larger than the limit of {cap:,} bytes "
                     f"(set {env_name(name)} to allow more)")
  return data


def read_file_capped(path, name: str) -> bytes:
  """A file's bytes; its size is checked before anything is read."""
  path = os.fspath(path)
  check(name, os.path.getsize(path), path, "its size in bytes")
  with open(path, "rb") as f:
    return read_capped(f, name, path)
