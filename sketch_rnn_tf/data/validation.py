"""Checking and filtering stroke-3 sketches read from files.

Every problem is reported with the file, the split and the record's index, so a
bad record in a 70,000-sketch file can be found. `validate_split` either fails
on the first problems or drops the bad records and counts them.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from sketch_rnn_tf import defaults
from sketch_rnn_tf.utils.errors import InputError

# Quick, Draw! sketches are scaled to 255 pixels, so an offset this large is a
# corrupt record, not a long pen move.
DEFAULT_MAX_ABS_OFFSET = 5000
# The reference training code clamps offsets to +-1000 before normalising.
DEFAULT_CLAMP = defaults.OFFSET_CLAMP
DEFAULT_MAX_LEN = defaults.MAX_SEQ_LEN


@dataclasses.dataclass(frozen=True)
class Problem:
  file: str
  split: str
  index: int
  message: str

  def __str__(self):
    return f"{self.file}: split '{self.split}', sketch {self.index}: {self.message}"


class SketchDataError(InputError):
  """Raised for bad records; `problems` lists every one found."""

  def __init__(self, problems: Sequence[Problem], limit: int = 10):
    self.problems = list(problems)
    lines = [str(p) for p in self.problems[:limit]]
    more = len(self.problems) - limit
    if more > 0:
      lines.append(f"... and {more} more")
    super().__init__("bad sketch records:\n  " + "\n  ".join(lines))


def sketch_problem(sketch, max_abs_offset: float = DEFAULT_MAX_ABS_OFFSET) -> str | None:
  """What is wrong with one stroke-3 record, or None if it is usable."""
  if not isinstance(sketch, np.ndarray):
    return f"not an array (a {type(sketch).__name__})"
  if sketch.ndim != 2 or sketch.shape[1] != 3:
    return f"shape {sketch.shape} is not [L, 3]"
  if sketch.shape[0] == 0:
    return "empty sketch (no points)"
  if sketch.dtype == bool or not (np.issubdtype(sketch.dtype, np.integer) or
                                  np.issubdtype(sketch.dtype, np.floating)):
    return f"dtype {sketch.dtype} is not numeric"
  if np.issubdtype(sketch.dtype, np.floating):
    bad = ~np.isfinite(sketch)
    if bad.any():
      row = int(np.argwhere(bad)[0][0])
      return f"non-finite value at point {row}"
    frac = sketch != np.round(sketch)
    if frac.any():
      row = int(np.argwhere(frac)[0][0])
      return f"non-integer value at point {row}: {sketch[row].tolist()}"
  pen = sketch[:, 2]
  bad_pen = (pen != 0) & (pen != 1)
  if bad_pen.any():
    row = int(np.flatnonzero(bad_pen)[0])
    return f"pen value {pen[row]} at point {row} is not 0 or 1"
  offsets = np.abs(sketch[:, 0:2].astype(np.float64))
  if offsets.max() > max_abs_offset:
    row = int(np.argwhere(offsets > max_abs_offset)[0][0])
    return (f"absurd offset {sketch[row, 0:2].tolist()} at point {row} "
            f"(limit +-{max_abs_offset})")
  return None


def validate_split(sketches: Sequence, file: str, split: str, on_error: str = "raise",
                   max_abs_offset: float = DEFAULT_MAX_ABS_OFFSET
                   ) -> tuple[list[np.ndarray], list[Problem]]:
  """Checks every record; returns (good records as int16, problems found).

  on_error: "raise" raises SketchDataError listing all problems; "drop" keeps
  the good records and returns the problems so the caller can count them.
  """
  if on_error not in ("raise", "drop"):
    raise ValueError(f"on_error must be 'raise' or 'drop', not {on_error!r}")
  good, problems = [], []
  for i, sketch in enumerate(sketches):
    message = sketch_problem(sketch, max_abs_offset)
    if message is None:
      good.append(sketch.astype(np.int16))
    else:
      problems.append(Problem(str(file), split, i, message))
  if problems and on_error == "raise":
    raise SketchDataError(problems)
  return good, problems


def filter_sketches(sketches: Sequence[np.ndarray], max_len: int | None = DEFAULT_MAX_LEN,
                    clamp: float | None = DEFAULT_CLAMP) -> tuple[list[np.ndarray], np.ndarray]:
  """Drops sketches longer than `max_len` points, clamps offsets to +-`clamp`.

  Returns (kept sketches, their indices in the input). Inputs are not modified.
  """
  kept, index = [], []
  for i, s in enumerate(sketches):
    if max_len is not None and len(s) > max_len:
      continue
    if clamp is not None:
      s = s.copy()
      s[:, 0:2] = np.clip(s[:, 0:2], -clamp, clamp)
    kept.append(s)
    index.append(i)
  return kept, np.asarray(index, dtype=np.int64)
