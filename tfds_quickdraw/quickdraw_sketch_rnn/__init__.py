"""The `quickdraw_sketch_rnn` TFDS dataset (see its README.md)."""
