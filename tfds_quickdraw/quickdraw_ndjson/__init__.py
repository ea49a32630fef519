"""The `quickdraw_ndjson` TFDS dataset (see its README.md)."""
