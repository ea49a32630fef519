"""Runs sketch-rnn-train and SIGKILLs it at a chosen point of its N-th checkpoint save.

  python tests/fault_injection.py MODE N [trainer flags...]

The kill message names the checkpoint being saved.

MODE "shards": after the checkpoint's data shards are written to the temporary
  directory, before they are merged into the final files.
MODE "index": after the checkpoint's files are complete, before the manager
  records it in the `checkpoint` state file.
"""
import os
import signal
import sys


def main():
  mode, nth = sys.argv[1], int(sys.argv[2])
  sys.argv = ["sketch-rnn-train"] + sys.argv[3:]
  from tensorflow.python.checkpoint import checkpoint_management
  from tensorflow.python.ops import gen_io_ops

  calls = {"n": 0}

  def arm(original):
    def patched(*args, **kwargs):
      calls["n"] += 1
      if calls["n"] == nth:
        target = kwargs.get("destination_prefix", kwargs.get("model_checkpoint_path"))
        if target is None:
          target = args[1]
        target = target.numpy().decode() if hasattr(target, "numpy") else str(target)
        print(f"fault injection: killing while saving {target} ({mode})", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
      return original(*args, **kwargs)
    return patched

  if mode == "shards":
    gen_io_ops.merge_v2_checkpoints = arm(gen_io_ops.merge_v2_checkpoints)
  elif mode == "index":
    checkpoint_management.update_checkpoint_state_internal = arm(
        checkpoint_management.update_checkpoint_state_internal)
  else:
    raise SystemExit(f"unknown mode {mode}")
  from sketch_rnn_tf.cli import train
  train.run()


if __name__ == "__main__":
  main()
