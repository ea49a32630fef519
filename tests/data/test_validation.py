"""Record checks name file, split, index and problem; filters drop and clamp."""
import numpy as np
import pytest

from sketch_rnn_tf.data import validation

GOOD = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int16)


@pytest.mark.parametrize("record, message", [
    ([[1, 2, 0]], "not an array"),
    (np.zeros((4, 2), np.int16), r"shape \(4, 2\) is not \[L, 3\]"),
    (np.zeros((3,), np.int16), r"shape \(3,\)"),
    (np.zeros((0, 3), np.int16), "empty sketch"),
    (np.array([[1.0, np.nan, 0]]), "non-finite value at point 0"),
    (np.array([[1.0, 2.0, 0], [0.5, 1.0, 1]]), r"non-integer value at point 1: \[0.5, 1.0, 1.0\]"),
    (np.array([[1, 2, 0], [1, 2, 2]], np.int16), "pen value 2 at point 1 is not 0 or 1"),
    (np.array([[1, 2, 0], [9000, 2, 1]], np.int32), r"absurd offset \[9000, 2\] at point 1"),
    (np.array([["a", "b", "c"]]), "not numeric"),
])
def test_each_problem_is_named(record, message):
  problem = validation.sketch_problem(record if not isinstance(record, list) else record)
  assert problem is not None
  import re
  assert re.search(message, problem), problem


def test_good_records_pass():
  assert validation.sketch_problem(GOOD) is None
  assert validation.sketch_problem(GOOD.astype(np.float64)) is None


def test_validate_split_raise_names_file_split_index():
  records = [GOOD, np.zeros((0, 3), np.int16), GOOD, np.array([[1, 1, 5]], np.int16)]
  with pytest.raises(validation.SketchDataError) as err:
    validation.validate_split(records, "cats.npz", "valid")
  text = str(err.value)
  assert "cats.npz: split 'valid', sketch 1: empty sketch" in text
  assert "cats.npz: split 'valid', sketch 3: pen value 5" in text
  assert [p.index for p in err.value.problems] == [1, 3]


def test_validate_split_drop_counts_and_converts():
  records = [GOOD.astype(np.float64), np.zeros((2, 2)), GOOD]
  good, problems = validation.validate_split(records, "f.npz", "train", on_error="drop")
  assert len(good) == 2 and all(g.dtype == np.int16 for g in good)
  assert len(problems) == 1 and problems[0].index == 1
  with pytest.raises(ValueError, match="on_error"):
    validation.validate_split(records, "f.npz", "train", on_error="ignore")


def test_filter_drops_long_and_clamps():
  long = np.zeros((251, 3), np.int16)
  wild = np.array([[1500, -2000, 0], [10, -10, 1]], np.int16)
  kept, index = validation.filter_sketches([long, wild, GOOD], max_len=250, clamp=1000)
  assert index.tolist() == [1, 2]
  np.testing.assert_array_equal(kept[0], [[1000, -1000, 0], [10, -10, 1]])
  assert wild[0, 0] == 1500  # the input is untouched
  kept, index = validation.filter_sketches([long], max_len=None, clamp=None)
  assert index.tolist() == [0] and kept[0] is long
