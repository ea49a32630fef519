"""The 345 Quick, Draw! categories and the TFDS config names made from them.

The names are read from the `labels.txt` that ships inside tensorflow-datasets
for `quickdraw_bitmap`, in that file's order. That order is the ClassLabel
order of every builder here, so label ids agree with `quickdraw_bitmap`'s.
"""
from __future__ import annotations

import re
import urllib.parse

import tensorflow_datasets as tfds

_LABELS_FILE = "datasets/quickdraw_bitmap/labels.txt"


def _read_categories() -> tuple[str, ...]:
  text = tfds.core.tfds_path(_LABELS_FILE).read_text(encoding="utf-8")
  names = tuple(line.strip() for line in text.splitlines() if line.strip())
  if len(names) != 345 or len(set(names)) != 345:
    raise RuntimeError(f"{_LABELS_FILE} in tensorflow-datasets should list 345 "
                       f"distinct categories, found {len(names)}")
  return names


CATEGORIES: tuple[str, ...] = _read_categories()


def config_name(category: str) -> str:
  """TFDS config name of a category: "The Eiffel Tower" -> "the_eiffel_tower".

  TFDS parses `dataset/config` with `[\\w+\\-.]+`, so "t-shirt" would pass, but
  `-` and `.` are also separators elsewhere (file names like `cat.full.npz`,
  shard suffixes), so every non-alphanumeric run becomes one `_`: the names are
  then plain identifiers ("t_shirt", "teddy_bear").
  """
  return re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")


# Config-style name -> category, also used to recognise local files named
# either way ("The Eiffel Tower.npz" or "the_eiffel_tower.npz").
CATEGORY_BY_CONFIG_NAME: dict[str, str] = {config_name(c): c for c in CATEGORIES}
if len(CATEGORY_BY_CONFIG_NAME) != len(CATEGORIES):
  raise RuntimeError("two Quick, Draw! categories map to the same config name")


def category_from_name(name: str) -> str | None:
  """The category a file stem or config name stands for, or None."""
  return CATEGORY_BY_CONFIG_NAME.get(config_name(name))


def url_name(category: str) -> str:
  """The category as it appears in the dataset's URLs (spaces as %20)."""
  return urllib.parse.quote(category)
