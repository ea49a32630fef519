"""The public API: what `import sketch_rnn_tf` offers, and the backend check."""
import os
import subprocess
import sys

import numpy as np
import pytest

import sketch_rnn_tf as srt
from sketch_rnn_tf.testing import REPO


def test_public_names():
  assert set(srt.__all__) == {"SketchRNN", "SketchLSTMCell", "HParams", "Sampler", "load_model",
                              "__version__"}
  for name in srt.__all__:
    assert getattr(srt, name) is not None
    if name != "__version__":
      assert getattr(srt, name).__doc__, name
  with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
    assert "version=VERSION" in f.read()
  assert srt.__version__.count(".") == 2


def test_model_builds_and_decoder_returns_the_mdn_output_first():
  import keras
  model = srt.SketchRNN(srt.HParams(conditional=False, dec_model="layer_norm", dec_rnn_size=16,
                                    num_mixture=3, max_seq_len=250))
  model.build()
  strokes_in = np.random.default_rng(0).normal(size=(2, 6, 5)).astype(np.float32)
  y, state = model.decoder(strokes_in)
  assert y.shape == (2, 6, 3 + 6 * 3) and len(state) == 2
  rnn = keras.layers.RNN(model.decoder.cell, return_sequences=True)
  np.testing.assert_allclose(model.decoder.head(rnn(strokes_in)).numpy(), y.numpy(), atol=1e-5)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_keras_backends_fail_at_import_with_the_fix(backend):
  env = dict(os.environ, KERAS_BACKEND=backend)
  r = subprocess.run([sys.executable, "-c", "import sketch_rnn_tf"], capture_output=True,
                     text=True, env=env, timeout=60)
  assert r.returncode != 0
  assert f"Keras is set to '{backend}'" in r.stderr and "KERAS_BACKEND=tensorflow" in r.stderr
