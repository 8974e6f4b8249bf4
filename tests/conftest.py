"""Strict JAX settings so dtype and rank bugs surface in tests, not in notebooks.

Strict promotion applies to the tests in this folder; the doctests in the library
run as a user would, with JAX's defaults.
"""

import os

# Two host devices so sharding is exercised on a CPU-only machine. Set before JAX
# initialises its backends.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax
import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "standard_promotion: run with JAX's standard dtype promotion, for code paths "
        "through optax transformations that are not strict-promotion clean (optax's "
        "Adam computes b1 ** count with an int32 count).",
    )


@pytest.fixture(autouse=True)
def _strict_jax(request):
    relaxed = request.node.get_closest_marker("standard_promotion") is not None
    promotion = "standard" if relaxed else "strict"
    with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion(promotion):
        yield


@pytest.fixture
def x64():
    """Run a test in float64 (references are computed in float64)."""
    with jax.enable_x64(True):
        yield
