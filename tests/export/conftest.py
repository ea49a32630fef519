"""Fixtures of the export tests."""
import numpy as np
import pytest

from sketch_rnn_tf.testing import GEN_JSON_STEPS


@pytest.fixture(scope="module")
def sheep_inputs(sheep_path):
  """Decoder inputs in pixels: the start token, then a real sheep's first GEN_JSON_STEPS-1 points."""
  from sketch_rnn_tf.data import npz_io, strokes
  sketch = next(s for s in npz_io.read_npz(sheep_path)["test"] if len(s) >= GEN_JSON_STEPS)
  s5 = strokes.to_stroke5(np.asarray(sketch[:GEN_JSON_STEPS - 1], np.float32), start_token=True)
  return s5[:GEN_JSON_STEPS]
