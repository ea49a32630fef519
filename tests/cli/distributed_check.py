"""Distribution checks that need a fresh process (devices are fixed at TF start-up).

  python tests/distributed_check.py mirrored             -> JSON of gradient/loss differences
  python tests/distributed_check.py worker INDEX PORTS   -> the same, one of two workers
  python tests/distributed_check.py trainer FLAGS...     -> sketch-rnn-train on 2 CPU replicas
                                                            (CPU_REPLICAS=N: on N)

Each compares the gradients and losses of one global batch of 8 sketches split
over 2 replicas with the single-device result on the whole batch.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def split_cpu(n=2):
  import tensorflow as tf
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def batch(indices):
  import numpy as np
  import tensorflow as tf
  from sketch_rnn_tf.data import strokes
  rng = np.random.default_rng(0)
  lengths = [int(rng.integers(5, 15)) for _ in range(8)]
  sk = [np.c_[rng.normal(size=(n, 2)), np.r_[(rng.random(n - 1) < 0.2) * 1.0, 1]]
        for n in lengths]
  s5 = np.stack([strokes.to_stroke5(s, 16, start_token=True) for s in sk])
  idx = list(indices)
  return {"strokes": tf.constant(s5[idx], tf.float32),
          "lengths": tf.constant([lengths[i] for i in idx], tf.int32),
          "labels": tf.constant([i % 2 for i in idx], tf.int32)}


def compare(strategy, replica_batches):
  """Max |difference| of loss and gradients: distributed vs one device."""
  import keras
  import numpy as np
  import tensorflow as tf
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.optimizer import make_optimizer
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN

  # No dropout and no z noise (decoder-only, class-conditional): the draws
  # would differ between one device and two replicas by design. A small clip
  # value, so that clipping acts (on the summed gradient).
  hp = hparams.get("tiny", "use_recurrent_dropout=false,conditional=false,num_classes=2,"
                   "grad_clip=0.002,max_seq_len=250")
  keras.utils.set_random_seed(1)
  with strategy.scope():
    model = SketchRNN(hp)
    model.build()
    model.optimizer = make_optimizer(hp)
    model.optimizer.build(model.trainable_variables)
  single = SketchRNN(hp)
  single.build()
  single.set_weights(model.get_weights())
  single.optimizer = make_optimizer(hp)
  single.optimizer.build(single.trainable_variables)
  terms, grads = single.gradients(batch(range(8)), tf.constant(0))
  per_replica = strategy.experimental_distribute_values_from_function(
      lambda ctx: replica_batches[ctx.replica_id_in_sync_group])

  @tf.function
  def distributed(data):
    t, g = strategy.run(model.gradients, args=(data, tf.constant(0)))
    return (strategy.reduce("MEAN", t["loss"], axis=None),
            [strategy.reduce("SUM", x, axis=None) for x in g])

  loss, dgrads = distributed(per_replica)

  @tf.function
  def distributed_step(data):
    strategy.run(model.train_step, args=(data,))

  initial = single.get_weights()
  for _ in range(2):
    single.train_step(batch(range(8)))
    distributed_step(per_replica)
  return {
      "weight_diff_after_2_steps": max(float(np.abs(a - b).max()) for a, b in
                                       zip(single.get_weights(), model.get_weights())),
      "weight_change": max(float(np.abs(a - b).max()) for a, b in
                           zip(single.get_weights(), initial)),
      "replicas": strategy.num_replicas_in_sync,
      "loss_diff": abs(float(loss) - float(terms["loss"])),
      "grad_diff": max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(grads, dgrads)),
      "grad_scale": max(float(np.abs(a.numpy()).max()) for a in grads),
  }


def main():
  mode = sys.argv[1]

  def halves():
    return [batch(range(0, 4)), batch(range(4, 8))]

  if mode == "mirrored":
    split_cpu()
    import tensorflow as tf
    print(json.dumps(compare(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), halves())))
  elif mode == "worker":
    index, ports = int(sys.argv[2]), sys.argv[3].split(",")
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index}})
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    # Each worker has one replica; its id is the worker's index.
    print(json.dumps(compare(strategy, halves())))
  elif mode == "trainer":
    split_cpu(int(os.environ.get("CPU_REPLICAS", "2")))
    from sketch_rnn_tf.cli import train
    sys.argv = ["sketch-rnn-train"] + sys.argv[2:]
    train.run()
  else:
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
  main()
