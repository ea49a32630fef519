"""Atomic file writes: a crash leaves the old file or the new one, never half of one."""
from __future__ import annotations

import os
import tempfile
from typing import Callable, IO


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
  """Calls write(f) on a temporary binary file next to `path`, then renames it over `path`.

  The file gets the usual permissions (0666 less the umask), not mkstemp's
  owner-only ones: outputs are for sharing.
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f:
      write(f)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
