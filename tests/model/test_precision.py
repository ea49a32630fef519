"""Every compute path (graph mode or XLA, float32 or bfloat16 matmuls, graph mode with
the fused step kernels, in two loops over halves of the batch, or without) gives the same
loss and gradients, within the precision's tolerance, for every cell kind."""
import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf import testing
from sketch_rnn_tf.model import hparams
from sketch_rnn_tf.model.sketch_rnn import SketchRNN
from tests.model.test_model import make_batch

# float32: XLA and graph mode reorder sums. bfloat16: 8-bit mantissas in the matmul
# operands (rounding 2^-9 relative), accumulated in float32, over a 20-step recurrence.
TOLERANCE = {"float32": 1e-5, "bfloat16": 0.06}


def loss_and_gradients(model, batch, jit):
  """The training loss with z = mu (no noise, no dropout, so that every path sees
  the same numbers: XLA draws other random numbers than graph mode) and its gradients."""
  def fn(b):
    with tf.GradientTape() as tape:
      mu, presig = model.encoder(b["strokes"][:, 1:], b["lengths"])
      y, _ = model.decoder(b["strokes"][:, :-1], mu)
      terms = model.loss_terms(b, {"y": y, "mu": mu, "presig": presig}, 3)
    return terms["loss"], tape.gradient(terms["loss"], model.trainable_variables)
  loss, grads = tf.function(fn, jit_compile=jit)(batch)
  return float(loss), [g.numpy() for g in grads]


@pytest.mark.parametrize("cell", ["lstm", "layer_norm", "hyper"])
def test_every_path_computes_the_same_loss_and_gradients(cell):
  hp = hparams.get("tiny", f"dec_model={cell},enc_model={'layer_norm' if cell == 'hyper' else 'lstm'},"
                   "max_seq_len=250")
  model = SketchRNN(hp, seed=3)
  model.build()
  # Random weights everywhere: the HyperLSTM's zero-started embeddings would hide its
  # auxiliary cell from the gradient.
  testing.randomise(model, seed=1, std=0.3)
  batch = make_batch((12, 20, 17), (0, 0, 0))
  ref_loss, ref_grads = loss_and_gradients(model, batch, jit=False)
  # presig gets no gradient here (z = mu and the KL under its floor): compared as zeros.
  nonzero = [np.abs(g).max() > 0 for g in ref_grads]
  zero = [v.path for v, nz in zip(model.trainable_variables, nonzero) if not nz]
  assert all("presig" in p for p in zero) and len(zero) <= 2, zero
  # (Without a kernel build, fused falls back to the ops; test_fast_recurrence fails CI then.)
  for precision in ("float32", "bfloat16"):
    for jit, fused in ((False, False), (False, True), (True, False)):
      if precision == "float32" and not jit and not fused:
        continue
      model.set_precision(precision, fused, batch_parts=2 if fused else 1)
      loss, grads = loss_and_gradients(model, batch, jit)
      tol = TOLERANCE[precision]
      assert loss == pytest.approx(ref_loss, rel=tol), (precision, jit, fused)
      errors = [np.linalg.norm(g - r) / (np.linalg.norm(r) if nz else 1.0)
                for g, r, nz in zip(grads, ref_grads, nonzero)]
      worst = int(np.argmax(errors))
      assert errors[worst] < tol, (precision, jit, model.trainable_variables[worst].path,
                                   errors[worst])
      if precision == "bfloat16":
        # It really ran in bfloat16: float32 paths agree to 1e-5, these do not.
        assert max(errors) > 1e-4, (jit, max(errors))
  model.set_precision("float32")
  assert loss_and_gradients(model, batch, jit=False)[0] == ref_loss


def test_unknown_precision_is_refused():
  model = SketchRNN(hparams.get("tiny", "max_seq_len=250"))
  with pytest.raises(ValueError, match="matmul dtype must be one of"):
    model.set_precision("float16")
