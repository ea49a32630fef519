"""python -m sketch_rnn_tf.layers.kernels: build the fused kernels now, print where."""
import sys

from sketch_rnn_tf.layers.kernels import main

sys.exit(main())
