"""Latent-space arithmetic for conditional models: interpolation and analogies.

  linear:  z(t) = (1 - t) z0 + t z1
  slerp:   z(t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1,
           cos(w) = z0 . z1 / (|z0| |z1|)
  analogy: z(a) - z(b) + z(c)

Spherical interpolation keeps the norm near that of prior samples (which lie
near a sphere of radius sqrt(Nz)), where linear interpolation passes through
the low-norm middle the decoder rarely saw; the paper's figures use slerp.
"""
from __future__ import annotations

import numpy as np

from sketch_rnn_tf import defaults

METHODS = defaults.INTERPOLATION_METHODS


def lerp(z0, z1, t):
  """Linear interpolation at each t: [len(t), Nz]."""
  z0, z1, t = np.asarray(z0, np.float64), np.asarray(z1, np.float64), np.asarray(t, np.float64)
  return ((1 - t)[:, None] * z0 + t[:, None] * z1).astype(np.float32)


def slerp(z0, z1, t):
  """Spherical interpolation at each t: [len(t), Nz] (linear when z0, z1 are parallel)."""
  z0, z1, t = np.asarray(z0, np.float64), np.asarray(z1, np.float64), np.asarray(t, np.float64)
  n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
  if n0 == 0 or n1 == 0:
    return lerp(z0, z1, t)
  omega = np.arccos(np.clip(np.dot(z0, z1) / (n0 * n1), -1.0, 1.0))
  if np.sin(omega) < 1e-6:
    return lerp(z0, z1, t)
  w0 = np.sin((1 - t) * omega) / np.sin(omega)
  w1 = np.sin(t * omega) / np.sin(omega)
  return (w0[:, None] * z0 + w1[:, None] * z1).astype(np.float32)


def interpolate(z0, z1, steps, method="slerp"):
  """`steps` codes from z0 to z1 inclusive."""
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, not {method!r}")
  if steps < 2:
    raise ValueError(f"an interpolation needs at least 2 steps, not {steps}")
  t = np.linspace(0.0, 1.0, steps)
  return (slerp if method == "slerp" else lerp)(z0, z1, t)


def analogy(za, zb, zc):
  """z(a) - z(b) + z(c): 'a is to b as ? is to c'."""
  return (np.asarray(za, np.float64) - np.asarray(zb, np.float64)
          + np.asarray(zc, np.float64)).astype(np.float32)
