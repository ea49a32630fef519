"""Fine-tuning (`--init_from`): the run starts from the source's weights exactly, keeps its
shapes and scale factor, records where it came from, and resumes like any run."""
import json
import os

import numpy as np
import pytest

from sketch_rnn_tf.training import trainer
from sketch_rnn_tf.utils import run_dir
from sketch_rnn_tf.utils.errors import InputError

pytestmark = pytest.mark.slow  # training runs


def config(model_dir, sheep, **kw):
  args = dict(model_dir=str(model_dir), data=[sheep], preset="tiny", jit_compile=False,
              precision="float32", log_every=2, eval_every=2, save_every=2, steps=2,
              eval_batches=2)
  args.update(kw)
  return trainer.TrainConfig(**args)


def first_validation(model_dir):
  with open(os.path.join(model_dir, "metrics.jsonl")) as f:
    first = json.loads(f.readline())
  assert first["step"] == 0
  return first


def source_validation(source_dir, sheep, batches=2):
  """The source model's validation costs, computed from its own directory the way an
  evaluation reads them (the same split, padding and batches as the trainer's)."""
  from sketch_rnn_tf.data import datasets, pipeline
  model = run_dir.load_model(source_dir)
  hp = model.hp
  data = datasets.load_npz_files([sheep], max_len=hp.max_seq_len)
  ds = pipeline.make_dataset(data["valid"], model.scale_factor, hp.batch_size, shuffle=False,
                             epochs=1, bucket=False, pad=hp.max_seq_len)
  for tracker in model.metrics:
    tracker.reset_state()
  for batch in ds.take(batches):
    logs = model.test_step(batch)
  return {k: float(v) for k, v in logs.items()}


def test_fine_tuning_starts_from_the_source_and_resumes(tiny_run, sheep_path, tmp_path, capsys):
  out = tmp_path / "tuned"
  assert trainer.train(config(out, sheep_path, init_from=tiny_run,
                              hparams="learning_rate=0.0005,kl_weight=0.25")) == 2
  printed = capsys.readouterr().out
  assert f"fine-tuning from {tiny_run}: scale factor" in printed and "kept from the source" in printed
  first, ref = first_validation(out), source_validation(tiny_run, sheep_path)
  for k in ("recon", "offset", "pen", "kl"):
    assert abs(first[k] - ref[k]) <= 1e-6 * max(1.0, abs(ref[k])), (k, first[k], ref[k])
  hp, info = run_dir.read_config(str(out))
  source_hp, source_info = run_dir.read_config(tiny_run)
  assert hp == source_hp.override("learning_rate=0.0005,kl_weight=0.25")
  assert info["scale_factor"] == source_info["scale_factor"]
  assert info["init_from"]["model_dir"] == os.path.abspath(tiny_run)
  assert info["init_from"]["source_step"] == 30 and info["init_from"]["fresh"] == []
  model = run_dir.load_model(str(out), "latest")
  assert int(model.optimizer.iterations.numpy()) == 2       # a fresh step counter
  # Resuming the fine-tuning run is resuming a run: the weights are not copied again.
  assert trainer.train(config(out, sheep_path, init_from=tiny_run, steps=4,
                              hparams="learning_rate=0.0005,kl_weight=0.25")) == 4
  printed = capsys.readouterr().out
  assert "resumed from" in printed and "weights from" not in printed
  with open(out / "metrics.jsonl") as f:
    assert [json.loads(line)["step"] for line in f] == [0, 2, 4]


def test_rescale_takes_the_new_datas_factor(tiny_run, sheep_path, tmp_path, capsys):
  big = str(tmp_path / "big_sheep.npz")   # the same sheep drawn twice as large
  with np.load(sheep_path, allow_pickle=True, encoding="latin1") as f:
    np.savez(big, **{k: np.array([np.asarray(s) * [2, 2, 1] for s in f[k]], dtype=object)
                     for k in ("train", "valid", "test")})
  _, source_info = run_dir.read_config(tiny_run)
  kept, rescaled = tmp_path / "kept", tmp_path / "rescaled"
  trainer.train(config(kept, big, init_from=tiny_run))
  trainer.train(config(rescaled, big, init_from=tiny_run, rescale=True))
  assert "(--rescale)" in capsys.readouterr().out
  assert run_dir.read_config(str(kept))[1]["scale_factor"] == source_info["scale_factor"]
  _, info = run_dir.read_config(str(rescaled))
  assert info["init_from"]["rescale"] is True
  assert info["scale_factor"] == pytest.approx(2 * source_info["scale_factor"], rel=1e-6)


def test_decoder_only_source_becomes_a_vae_that_starts_where_the_source_was(
    sheep_path, tmp_path, capsys):
  source = tmp_path / "decoder_only"
  trainer.train(config(source, sheep_path, hparams="conditional=false", steps=4))
  out = tmp_path / "vae"
  trainer.train(config(out, sheep_path, init_from=str(source), hparams="conditional=true"))
  assert "new: encoder/forward/w_x" in capsys.readouterr().out
  first, ref = first_validation(out), source_validation(str(source), sheep_path)
  for k in ("recon", "offset", "pen"):
    assert abs(first[k] - ref[k]) <= 1e-6 * max(1.0, abs(ref[k])), (k, first[k], ref[k])
  _, info = run_dir.read_config(str(out))
  fresh = info["init_from"]["fresh"]
  assert "decoder/init_state/kernel" in fresh and any(f.startswith("decoder/cell/w_x rows 5")
                                                      for f in fresh)
  model = run_dir.load_model(str(out), "latest")
  assert model.encoder is not None
  z_rows = model.decoder.cell.w_x.numpy()[5:]
  assert np.abs(z_rows).max() > 0          # trained from zero: the z path opened


@pytest.mark.parametrize("kw, message", [
    (dict(hparams="dec_rnn_size=64"), "would change the shapes .* dec_rnn_size 32 -> 64"),
    (dict(hparams="conditional=false"), "is a VAE; conditional=false would drop its encoder"),
])
def test_shape_changes_are_refused(tiny_run, sheep_path, tmp_path, kw, message):
  with pytest.raises(InputError, match=message):
    trainer.train(config(tmp_path / "x", sheep_path, init_from=tiny_run, **kw))
  assert not (tmp_path / "x" / "hparams.json").exists()


def test_bad_init_from_arguments_are_refused(tiny_run, sheep_path, tmp_path):
  with pytest.raises(InputError, match="--rescale applies only with --init_from"):
    config(tmp_path / "x", sheep_path, rescale=True)
  with pytest.raises(InputError, match="the same directory"):
    config(tiny_run, sheep_path, init_from=tiny_run)
  with pytest.raises(InputError, match="--init_from: .* is not a training run directory"):
    trainer.train(config(tmp_path / "y", sheep_path, init_from=str(tmp_path)))
