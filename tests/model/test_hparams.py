"""Presets, typed overrides and JSON round trips."""
import pytest

from sketch_rnn_tf.model import hparams


def test_presets():
  paper = hparams.get("paper")
  assert (paper.enc_rnn_size, paper.dec_rnn_size, paper.dec_model, paper.z_size,
          paper.num_mixture, paper.batch_size, paper.learning_rate, paper.kl_weight,
          paper.hyper_num_units, paper.hyper_embedding_size) == \
      (256, 512, "hyper", 128, 20, 100, 1e-3, 0.5, 256, 32)
  assert hparams.get("magenta").dec_model == "lstm"


def test_overrides_are_typed_and_checked():
  hp = hparams.get("paper", "dec_model=lstm, z_size=64,conditional=false,kl_weight=1")
  assert hp.dec_model == "lstm" and hp.z_size == 64 and hp.conditional is False
  assert isinstance(hp.kl_weight, float)
  with pytest.raises(ValueError, match="unknown hparam 'zsize'"):
    hparams.get("paper", "zsize=3")
  with pytest.raises(ValueError, match="not a int"):
    hparams.get("paper", "z_size=big")
  with pytest.raises(ValueError, match="dec_model must be"):
    hparams.get("paper", "dec_model=gru")
  with pytest.raises(ValueError, match="unknown preset"):
    hparams.get("huge")


def test_json_round_trip():
  hp = hparams.get("tiny", "num_classes=3")
  assert hparams.HParams.from_json(hp.to_json()) == hp
