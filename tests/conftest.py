"""Strict JAX settings so dtype and rank bugs surface in tests, not in notebooks."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture
def x64():
    """Run a test in float64 (references are computed in float64)."""
    with jax.enable_x64(True):
        yield
