"""The Example sections of the public classes' docstrings run and print what they say."""
import doctest

import keras
import pytest
import tensorflow as tf

from sketch_rnn_tf.layers import decoder, encoder, lstm_cell, mdn
from sketch_rnn_tf.model import hparams, sketch_rnn


@pytest.mark.parametrize("module", [lstm_cell, encoder, decoder, mdn, sketch_rnn],
                         ids=lambda m: m.__name__)
def test_examples(module):
  globs = dict(vars(module), tf=tf, keras=keras, HParams=hparams.HParams)
  result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.ELLIPSIS)
  assert result.attempted > 0, f"{module.__name__} has no examples"
  assert result.failed == 0
