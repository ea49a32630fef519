"""Latent interpolation and analogies against their closed forms."""
import numpy as np
import pytest

from sketch_rnn_tf.sampling import latent


def test_slerp_keeps_the_angle_linear_and_the_norm_of_equal_norm_ends():
  rng = np.random.default_rng(0)
  z0, z1 = rng.normal(size=64), rng.normal(size=64)
  z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
  zs = latent.interpolate(z0, z1, 7, "slerp").astype(np.float64)
  np.testing.assert_allclose(zs[0], z0, atol=1e-5)
  np.testing.assert_allclose(zs[-1], z1, atol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(zs, axis=1), np.linalg.norm(z0), rtol=1e-5)
  omega = np.arccos(z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1)))
  angles = [np.arccos(np.clip(z @ z0 / (np.linalg.norm(z) * np.linalg.norm(z0)), -1, 1))
            for z in zs]
  np.testing.assert_allclose(angles, np.linspace(0, omega, 7), atol=1e-3)


def test_linear_interpolation_and_degenerate_slerp():
  z0, z1 = np.array([1.0, 2.0]), np.array([3.0, -2.0])
  np.testing.assert_allclose(latent.interpolate(z0, z1, 3, "linear"),
                             [[1, 2], [2, 0], [3, -2]], atol=1e-6)
  # Parallel ends: slerp falls back to the straight line instead of dividing by sin(0).
  np.testing.assert_allclose(latent.interpolate(z0, 2 * z0, 3, "slerp"),
                             [[1, 2], [1.5, 3], [2, 4]], atol=1e-6)
  with pytest.raises(ValueError, match="at least 2"):
    latent.interpolate(z0, z1, 1)
  with pytest.raises(ValueError, match="method"):
    latent.interpolate(z0, z1, 3, "cubic")


def test_analogy():
  np.testing.assert_allclose(latent.analogy([1, 1], [0, 2], [5, 5]), [6, 4])
