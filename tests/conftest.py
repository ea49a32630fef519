"""Shared test fixtures: the real data in ../shared, skipped with a reason when absent."""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
SHEEP = os.path.join(SHARED, "data", "aaron_sheep.npz")


@pytest.fixture(scope="session")
def sheep_path():
  if not os.path.exists(SHEEP):
    message = f"real data not found: {SHEEP} (../shared is absent)"
    if os.environ.get("CI"):  # CI always has ../shared: a skip there would hide a gap
      pytest.fail(message)
    pytest.skip(message)
  return SHEEP
