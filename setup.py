"""Packaging for sketch-rnn-tf.

Versions that must agree are pinned here and nowhere else:
- tensorflowjs 4.22 (the `tfjs` extra) pulls tensorflow 2.19.0 through
  tensorflow-decision-forests, so the core pins the same TensorFlow.
- TensorFlow 2.19 needs protobuf < 6; tensorflow-metadata >= 1.18 is generated
  with protobuf 6 and breaks `import tensorflow_datasets`, hence the cap.
- ydf 0.16 breaks the tensorflowjs converter's import against protobuf 5.29.
"""
import re

from setuptools import find_packages, setup

# The version has one home, sketch_rnn_tf/__init__.py (read, not imported: that needs TF).
VERSION = re.search(r'^__version__ = "([^"]+)"', open("sketch_rnn_tf/__init__.py", encoding="utf-8").read(),
                    re.M).group(1)

setup(
    name="sketch-rnn-tf",
    version=VERSION,
    description="Sketch-RNN (Ha & Eck, 2018) in TensorFlow/Keras: data, training, "
    "sampling and export.",
    long_description=open("README.md", encoding="utf-8").read(),
    license="Apache-2.0",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["sketch_rnn_tf", "sketch_rnn_tf.*",
                                    "tfds_quickdraw", "tfds_quickdraw.*"]),
    package_data={
        # The fused CPU kernels' sources: compiled on the machine that runs them.
        "sketch_rnn_tf.layers.kernels": ["*.cc", "*.h"],
        "tfds_quickdraw": ["*/checksums.tsv", "*/dummy_data/*", "*/dummy_data/*/*",
                           "*/CITATIONS.bib", "*/README.md", "*/TAGS.txt",
                           "*/dummy_data/*/*/*"],
    },
    install_requires=[
        "tensorflow==2.19.0",
        "keras>=3.5,<4",
        "numpy>=1.26,<2.2",
        "rdp>=0.8",
        "simplification>=0.7",
        "tensorflow-datasets>=4.9.8,<5",
        "tensorflow-metadata<1.18",
        "absl-py>=2.0",
        "pillow>=10",
        # tensorflow-datasets 4.9.x imports it on every Python but declares it only
        # for Python < 3.9 (tensorflow/datasets#11212).
        "importlib_resources",
    ],
    extras_require={
        # mlcroissant: the `tfds build` command line imports it.
        "beam": ["apache-beam>=2.60", "mlcroissant"],
        "tfjs": ["tensorflowjs==4.22.0", "ydf<0.16"],
        # Browser tests drive Debian's chromium (scripts/setup_js.sh); never
        # `playwright install`, which downloads a browser.
        "web": ["playwright>=1.45"],
        # dill: tfds.testing imports it.
        "dev": ["pytest>=8", "pytest-xdist>=3", "hypothesis>=6.100", "dill"],
    },
    entry_points={
        "console_scripts": [
            "sketch-rnn-data=sketch_rnn_tf.cli.data:run",
            "sketch-rnn-train=sketch_rnn_tf.cli.train:run",
            "sketch-rnn-eval=sketch_rnn_tf.cli.evaluate:run",
            "sketch-rnn-export=sketch_rnn_tf.cli.export:run",
            "sketch-rnn-sample=sketch_rnn_tf.cli.sample:run",
            "sketch-rnn-import=sketch_rnn_tf.cli.import_model:run",
        ],
    },
)
