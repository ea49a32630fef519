"""Fixtures for the builders' tests: the real data in ../shared, when present."""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(REPO, "..", "shared", "data")


@pytest.fixture(scope="session")
def shared_data():
  """Path of ../shared/data; skips (fails under CI, which always has it) if absent."""
  if not os.path.isdir(SHARED_DATA):
    message = f"real data not found: {os.path.normpath(SHARED_DATA)} (../shared is absent)"
    if os.environ.get("CI"):  # a skip on CI would hide a gap
      pytest.fail(message)
    pytest.skip(message)
  return SHARED_DATA
