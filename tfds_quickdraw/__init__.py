"""TFDS builders for Quick, Draw! sketches in stroke format.

Importing the package registers the datasets with TFDS:

  import tensorflow_datasets as tfds
  import tfds_quickdraw  # noqa: F401
  ds = tfds.load("quickdraw_sketch_rnn/cat", split="train")

- `quickdraw_sketch_rnn/<category>[_full]`: the sketch-rnn `.npz` files.
- `quickdraw_ndjson/{simplified,raw}`: stroke-3 built from the `.ndjson` files,
  with an Apache Beam path for the full 50M-drawing set.
"""
from tfds_quickdraw.quickdraw_ndjson.quickdraw_ndjson_dataset_builder import (
    Builder as QuickdrawNdjson, QuickdrawNdjsonConfig)
from tfds_quickdraw.quickdraw_sketch_rnn.quickdraw_sketch_rnn_dataset_builder import (
    Builder as QuickdrawSketchRnn, QuickdrawSketchRnnConfig)

__all__ = ["QuickdrawNdjson", "QuickdrawNdjsonConfig", "QuickdrawSketchRnn",
           "QuickdrawSketchRnnConfig"]
