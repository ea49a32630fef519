"""The drawing modes as library functions: layout of the grids, class-conditional labels,
conditional-only modes, and the files they write."""
import numpy as np
import pytest

from sketch_rnn_tf.sampling import applications as apps
from sketch_rnn_tf.sampling.sampler import Sampler
from sketch_rnn_tf.testing import tiny_model as model_for


def _inputs(n, seed=0):
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    s3 = np.c_[rng.normal(0, 8, (12, 2)), (np.arange(12) % 5 == 4)].astype(np.float32)
    s3[-1, 2] = 1
    out.append((f"in{i}", s3))
  return out


def test_grids_of_a_conditional_model():
  sampler = Sampler(model_for(""))
  taus = [0.3, 0.8]
  g = apps.generate(sampler, 3, taus, seed=1)
  assert (len(g.sketches), g.cols) == (6, 3) and g.labels[0] == "tau=0.3"
  g = apps.reconstruct(sampler, _inputs(2), taus, num=2)
  assert (len(g.sketches), g.cols) == (2 + 2 * 2 * 2, 2) and g.labels[:2] == ["in0", "in1"]
  g = apps.interpolate(sampler, _inputs(2), taus, steps=4, method="linear")
  assert (len(g.sketches), g.cols) == (2 * 6, 6)
  np.testing.assert_array_equal(g.sketches[0], _inputs(2)[0][1])
  g = apps.analogy(sampler, _inputs(3), [0.5], num=2)
  assert (len(g.sketches), g.cols) == (5, 5) and g.labels[1].startswith("- b")
  g = apps.complete(sampler, _inputs(1), taus, num=3)
  assert (len(g.sketches), g.cols) == (2 * 4, 4)
  with pytest.raises(ValueError, match="exactly 3"):
    apps.analogy(sampler, _inputs(2), [0.5])


def test_interpolation_strip_shares_noise_so_equal_codes_draw_equal_sketches():
  sampler = Sampler(model_for(""))
  (_, a), = _inputs(1)
  g = apps.interpolate(sampler, [("a", a), ("a again", a)], [0.9], steps=3)
  drawn = g.sketches[1:-1]  # the same z three times, with the same noise
  for s in drawn[1:]:
    np.testing.assert_allclose(s, drawn[0], atol=1e-4)


def test_class_conditional_labels_and_decoder_only_limits(tmp_path):
  m = model_for("conditional=false,num_classes=3")
  m.class_names = ("cat", "dog", "owl")
  sampler = Sampler(m)
  g = apps.generate(sampler, 4, [0.5])
  assert g.labels == ["tau=0.5 cat", "tau=0.5 dog", "tau=0.5 owl", "tau=0.5 cat"]
  g = apps.generate(sampler, 2, [0.5], class_id=2)
  assert g.labels == ["tau=0.5 owl"] * 2
  for mode in (apps.reconstruct, apps.interpolate, apps.analogy):
    with pytest.raises(ValueError, match="needs a conditional"):
      mode(sampler, _inputs(3), [0.5])
  g = apps.complete(sampler, _inputs(1), [0.5], num=2, class_id=1)
  assert len(g.sketches) == 3
  for name in ("g.svg", "g.png"):
    apps.write_grid(str(tmp_path / name), g)
  assert (tmp_path / "g.svg").read_text().count("<text") == 3
  with pytest.raises(ValueError, match=r"\.svg or \.png"):
    apps.write_grid(str(tmp_path / "g.gif"), g)
