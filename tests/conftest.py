"""Strict JAX settings so dtype and rank bugs surface in tests, not in notebooks."""

import os

# Two host devices so sharding is exercised on a CPU-only machine. Set before JAX
# initialises its backends.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "standard_promotion: run with JAX's standard dtype promotion, for code paths "
        "through optax transformations that are not strict-promotion clean (optax's "
        "Adam computes b1 ** count with an int32 count).",
    )


@pytest.fixture(autouse=True)
def _dtype_promotion(request):
    if request.node.get_closest_marker("standard_promotion"):
        with jax.numpy_dtype_promotion("standard"):
            yield
    else:
        yield


@pytest.fixture
def x64():
    """Run a test in float64 (references are computed in float64)."""
    with jax.enable_x64(True):
        yield
