"""Closed forms on the bilinear game Φ = xᵀy (docs/concepts.md), and OGDA against optax.

With x, y ∈ ℝⁿ, V(z) = (y, −x) = Jz where J = [[0, I], [−I, 0]] is orthogonal and
J² = −I. Every rule below is then a fixed linear map T = aI − bJ, and since
J + Jᵀ = 0 and JᵀJ = I,

    ‖(aI − bJ) z‖² = (a² + b²) ‖z‖²   for every z.

* GDA: T = I − αJ, so ‖z‖ grows by √(1 + α²) per iteration.
* Extragradient: T = I − αJ(I − αJ) = (1 − α²)I − αJ, a factor √(1 − α² + α⁴).
* Exact proximal point: (I + αJ)z⁺ = z and (I + αJ)(I − αJ) = (1 + α²)I, so
  T = (I − αJ)/(1 + α²), a factor 1/√(1 + α²). K fixed-point steps give
  w_K = Σ_{j≤K} (−αJ)^j z, off the exact step by α^{K+1}/√(1 + α²) relatively.

The expected iterates are T^k z⁰ with T built in NumPy from these formulas.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

N = 2  # x, y ∈ ℝ²
Z0 = np.array([0.6, -0.8, 0.3, 0.5])  # (x, y) flattened
J = np.block([[np.zeros((N, N)), np.eye(N)], [-np.eye(N), np.zeros((N, N))]])
EYE = np.eye(2 * N)


# Jitted once for the whole module (its cache is keyed by dtype), so the loops below
# spend their time in the rules.
bilinear_field = jax.jit(mmx.field(lambda x, y: x @ y))


def split(z: np.ndarray):
    return (jnp.asarray(z[:N], jnp.float64), jnp.asarray(z[N:], jnp.float64))


def join(z) -> np.ndarray:
    return np.concatenate([np.asarray(z[0], np.float64), np.asarray(z[1], np.float64)])


def committed_iterates(opt, calls: int, num_iterations: int, mode: str) -> np.ndarray:
    """z⁰, …, z^N of ``opt`` on Φ = xᵀy, run in transparent or opaque mode."""
    V = bilinear_field

    def field(w, phase):
        del phase
        return V(w)

    z = split(Z0)
    state = opt.init(z)
    iterates = [join(mmx.iterate(z, state))]
    for _ in range(num_iterations):
        if mode == "transparent":
            for _ in range(calls):
                updates, state = opt.update(V(z), state, z)
                z = optax.apply_updates(z, updates)
        else:
            updates, state = opt.update(V(z), state, z, field=field)
            z = optax.apply_updates(z, updates)
        iterates.append(join(mmx.iterate(z, state)))
    return np.stack(iterates)


def check_linear_map(iterates: np.ndarray, T: np.ndarray, factor: float, tol: float):
    norms = np.linalg.norm(iterates, axis=1)
    np.testing.assert_allclose(norms[1:] / norms[:-1], factor, rtol=tol)
    expected = [np.linalg.matrix_power(T, k) @ Z0 for k in range(len(iterates))]
    np.testing.assert_allclose(iterates, np.stack(expected), rtol=tol, atol=tol)


MODES = ("transparent", "opaque")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.5])
def test_gda_grows(x64, alpha, mode):
    iterates = committed_iterates(mmx.gda(alpha), 1, 10, mode)
    check_linear_map(iterates, EYE - alpha * J, math.sqrt(1 + alpha**2), 1e-12)
    assert np.linalg.norm(iterates[-1]) > np.linalg.norm(Z0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_extragradient_shrinks(x64, alpha, mode):
    iterates = committed_iterates(mmx.extragradient(alpha), 2, 10, mode)
    factor = math.sqrt(1 - alpha**2 + alpha**4)
    check_linear_map(iterates, (1 - alpha**2) * EYE - alpha * J, factor, 1e-12)
    assert np.linalg.norm(iterates[-1]) < np.linalg.norm(Z0)


@pytest.mark.parametrize(
    ("alpha", "mode"),
    [(0.1, "opaque"), (0.3, "opaque"), (0.5, "opaque"), (0.5, "transparent")],
)
def test_proximal_point_shrinks(x64, alpha, mode):
    # α^{K+1} ≤ 0.5^31 ≈ 5e-10: the inner iteration has converged far below 1e-6.
    inner_steps = 30
    iterates = committed_iterates(
        mmx.proximal_point(alpha, inner_steps=inner_steps), inner_steps, 5, mode
    )
    exact = (EYE - alpha * J) / (1 + alpha**2)
    check_linear_map(iterates, exact, 1 / math.sqrt(1 + alpha**2), 1e-6)


@pytest.mark.parametrize(
    ("inner_steps", "factor"),
    [
        (1, lambda a: math.sqrt(1 + a**2)),  # one fixed-point step: GDA
        (2, lambda a: math.sqrt(1 - a**2 + a**4)),  # two: extragradient
    ],
    ids=["K=1-is-gda", "K=2-is-extragradient"],
)
def test_proximal_point_family(x64, inner_steps, factor):
    alpha = 0.4
    iterates = committed_iterates(
        mmx.proximal_point(alpha, inner_steps=inner_steps), inner_steps, 6, "opaque"
    )
    # w_K = Σ_{j≤K} (−αJ)^j z.
    T = sum(np.linalg.matrix_power(-alpha * J, j) for j in range(inner_steps + 1))
    check_linear_map(iterates, T, factor(alpha), 1e-12)


def test_proximal_point_few_inner_steps_is_not_exact(x64):
    """The 1e-6 agreement above comes from the inner steps, not from slack."""
    alpha = 0.5
    iterates = committed_iterates(
        mmx.proximal_point(alpha, inner_steps=3), 3, 5, "opaque"
    )
    norms = np.linalg.norm(iterates, axis=1)
    ratio = norms[1:] / norms[:-1]
    assert np.all(np.abs(ratio - 1 / math.sqrt(1 + alpha**2)) > 1e-3)


# ----------------------------------------------------------------------------------
# OGDA is optax's optimistic gradient descent, step for step (docs/concepts.md).

A = np.array([[1.0, -0.5, 0.25], [0.3, 0.8, -1.2]])
matrix_field = jax.jit(mmx.field(lambda x, y, A: x @ A @ y))


def decaying(dtype):
    return lambda count: 0.2 / (1.0 + 0.1 * count.astype(dtype))


@pytest.mark.parametrize("schedule", [False, True], ids=["constant", "schedule"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimistic_gda_is_optax_ogd(dtype, schedule):
    with jax.enable_x64(dtype == "float64"):
        A_ = jnp.asarray(A, dtype)

        def V(z):
            return matrix_field(z, A_)

        lr = decaying(dtype) if schedule else 0.2
        ours, theirs = mmx.optimistic_gda(lr), optax.optimistic_gradient_descent(lr)
        z0 = (jnp.asarray([0.6, -0.8], dtype), jnp.asarray([0.3, 0.5, -0.1], dtype))
        z_ours, z_theirs = z0, z0
        s_ours, s_theirs = ours.init(z0), theirs.init(z0)
        tol = 8 * np.finfo(dtype).eps
        for k in range(12):
            u, s_ours = ours.update(V(z_ours), s_ours, z_ours)
            z_ours = optax.apply_updates(z_ours, u)
            u, s_theirs = theirs.update(V(z_theirs), s_theirs, z_theirs)
            z_theirs = optax.apply_updates(z_theirs, u)
            assert {x.dtype for x in jax.tree.leaves(z_ours)} == {jnp.dtype(dtype)}
            np.testing.assert_allclose(
                join(z_ours), join(z_theirs), rtol=tol, atol=tol, err_msg=f"step {k}"
            )
            if k == 0:
                # V(z^{−1}) := V(z⁰), so the first step is a plain GDA step (the
                # schedule also starts at 0.2).
                x0, y0 = (np.asarray(p, np.float64) for p in z0)
                v0 = np.concatenate([A @ y0, -(A.T @ x0)])
                np.testing.assert_allclose(
                    join(z_ours), join(z0) - 0.2 * v0, rtol=10 * tol, atol=10 * tol
                )
