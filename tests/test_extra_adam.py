"""ExtraAdam against Gidel et al.'s code: where ε enters, and the bilinear orbit.

Gidel et al.'s ExtraAdam (github.com/GauthierGidel/Variational-Inequality-GAN,
``optim/extragradient.py``) is written on the older PyTorch Adam: after the
moments and the step count advance,

    step_size = lr · √(1 − β₂ᵗ)/(1 − β₁ᵗ),   u = −step_size · m/(√v + ε),

and both the extrapolation and the step add ``u`` to the parameters saved at
the start of the iteration. ``eps_placement="v"`` must follow it to rounding.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

LR, B1, B2 = 0.05, 0.5, 0.9  # Gidel et al.'s GAN betas
NUM_ITERATIONS = 6

# Φ(x, y) = xᵀAy + ½xᵀPx − ½yᵀQy + bᵀx with x ∈ R², y ∈ R³:
# V(z) = (Ay + Px + b, −Aᵀx + Qy).
_rng = np.random.default_rng(0)
A = _rng.normal(size=(2, 3))
P = np.diag([0.3, 0.1])
Q = np.diag([0.2, 0.0, 0.4])
B = np.array([0.5, -1.0])
Z0 = (np.array([1.0, -0.5]), np.array([0.3, 2.0, -1.0]))


def phi(x, y):
    a, p, q, b = (jnp.asarray(c, x.dtype) for c in (A, P, Q, B))
    return x @ (a @ y) + 0.5 * x @ (p @ x) - 0.5 * y @ (q @ y) + b @ x


V = mmx.field(phi)


def reference_field(z):
    x, y = z[:2], z[2:]
    return np.concatenate([A @ y + P @ x + B, -A.T @ x + Q @ y])


def gidel_extra_adam(eps, num_iterations=NUM_ITERATIONS):
    """Every point where Gidel et al.'s ExtraAdam evaluates the field, in float64."""
    z = np.concatenate(Z0)
    m, v, step = np.zeros_like(z), np.zeros_like(z), 0

    def adam(grad):
        nonlocal m, v, step
        step += 1
        m = B1 * m + (1 - B1) * grad
        v = B2 * v + (1 - B2) * grad * grad
        denom = np.sqrt(v) + eps
        step_size = LR * np.sqrt(1 - B2**step) / (1 - B1**step)
        return -step_size * m / denom

    points = [z]
    for _ in range(num_iterations):
        saved = z.copy()  # extrapolation: p ← p + u, with p = saved
        extrapolated = saved + adam(reference_field(saved))
        points.append(extrapolated)
        z = saved + adam(reference_field(extrapolated))  # step: p ← saved + u
        points.append(z)
    return np.stack(points)


def library_points(eps, eps_placement, num_iterations=NUM_ITERATIONS):
    """The points the library visits in transparent mode (one field call each)."""
    opt = mmx.extra_adam(LR, B1, B2, eps, eps_placement=eps_placement)

    @jax.jit
    def step(z, state):
        updates, state = opt.update(V(z), state, z)
        return optax.apply_updates(z, updates), state

    z = tuple(jnp.asarray(a) for a in Z0)
    state = opt.init(z)
    points = [np.concatenate([np.asarray(a) for a in z])]
    for _ in range(2 * num_iterations):
        z, state = step(z, state)
        points.append(np.concatenate([np.asarray(a) for a in z]))
    return np.stack(points)


def test_eps_on_v_follows_gidel_et_al_step_for_step(x64):
    eps = 1e-3
    np.testing.assert_allclose(
        library_points(eps, "v"), gidel_extra_adam(eps), rtol=0, atol=1e-12
    )


@pytest.mark.standard_promotion  # optax's Adam is not strict-promotion clean
def test_the_default_placement_differs_by_the_documented_amount(x64):
    """At the first step m̂ = g and v̂ = g², so the two placements step by
    g/(|g| + ε) and g/(|g| + ε/√(1 − β₂)): a relative difference of about
    (ε/√(1 − β₂) − ε)/|g|."""
    eps = 1e-3
    g = reference_field(np.concatenate(Z0))
    default, theirs = library_points(eps, "v_hat"), gidel_extra_adam(eps)
    np.testing.assert_allclose(
        default[1], default[0] - LR * g / (np.abs(g) + eps), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        theirs[1],
        theirs[0] - LR * g / (np.abs(g) + eps / np.sqrt(1 - B2)),
        rtol=0,
        atol=1e-12,
    )
    # Their ε, in units of √v̂, is ε' = ε/√(1 − β₂ᵗ): the steps differ by
    # |g|(ε' − ε)/((|g| + ε)(|g| + ε')) of α, about (ε' − ε)/|g| where |g| ≫ ε'.
    theirs_eps = eps / np.sqrt(1 - B2)
    relative = np.abs(default[1] - theirs[1]) / LR
    np.testing.assert_allclose(
        relative,
        np.abs(g) * (theirs_eps - eps) / ((np.abs(g) + eps) * (np.abs(g) + theirs_eps)),
        rtol=1e-9,
    )
    expected = (theirs_eps - eps) / np.abs(g)
    large = np.abs(g) > 100 * theirs_eps
    assert large.sum() >= 2
    np.testing.assert_allclose(relative[large], expected[large], rtol=0.05)
    # Over the run the gap stays of that order; at ε = 1e-8 it all but vanishes.
    gap = np.abs(default - theirs).max()
    assert 0.1 * LR * expected.min() < gap < 10 * LR * expected.max()
    tiny = 1e-8
    gap_tiny = np.abs(library_points(tiny, "v_hat") - gidel_extra_adam(tiny)).max()
    assert gap_tiny < 10 * LR * (tiny / np.sqrt(1 - B2)) / np.abs(g).min()


def test_eps_on_v_keeps_dtypes_and_takes_injected_hyperparameters():
    for dtype in (jnp.float32, jnp.bfloat16):
        z = tuple(jnp.asarray(a, dtype) for a in Z0)
        plain = mmx.extra_adam(LR, B1, B2, 1e-3, eps_placement="v")
        injected = optax.inject_hyperparams(
            mmx.extra_adam, static_args=("eps_placement",)
        )(learning_rate=LR, b1=B1, b2=B2, eps=1e-3, eps_placement="v")
        finals = []
        for opt in (plain, injected):
            state = opt.init(z)
            dtypes = [jnp.result_type(s) for s in jax.tree.leaves(state)]
            w = z
            for _ in range(4):
                updates, state = opt.update(V(w), state, w)
                w = optax.apply_updates(w, updates)
            assert [jnp.result_type(s) for s in jax.tree.leaves(state)] == dtypes
            assert all(jnp.result_type(a) == dtype for a in jax.tree.leaves(w))
            finals.append(np.concatenate([np.asarray(a, np.float64) for a in w]))
        np.testing.assert_allclose(
            finals[0], finals[1], rtol=1e-2 if dtype == jnp.bfloat16 else 1e-6
        )


def test_eps_placement_must_be_known():
    with pytest.raises(ValueError, match="eps_placement"):
        mmx.extra_adam(LR, eps_placement="pytorch")  # type: ignore[arg-type]


@pytest.mark.standard_promotion  # optax's Adam is not strict-promotion clean
@pytest.mark.parametrize(("b1", "b2"), [(0.0, 0.999), (0.5, 0.9), (0.9, 0.999)])
def test_on_a_bilinear_game_it_ends_on_an_orbit_of_radius_proportional_to_the_step(
    b1, b2
):
    """On Φ = xy the iteration is invariant under z ↦ cz, α ↦ cα (Adam divides
    by √v̂ ∝ |V|, ε aside), so the attracting orbit's radius is proportional to α;
    b1 = 0 does not converge either."""
    bilinear = mmx.field(lambda x, y: x * y)
    z0 = (jnp.array(1.0), jnp.array(0.0))
    steps = jnp.array([0.01, 0.02])
    tail = 2000  # evaluations, 1000 iterations

    def orbit(lr):
        sol = mmx.solve(bilinear, z0, mmx.extra_adam(lr, b1=b1, b2=b2), 40000)
        norms = sol.trace["field_norm"][-tail:]  # ‖V(z)‖ = ‖z‖ on Φ = xy
        return jnp.min(norms), jnp.max(norms)

    low, high = (np.asarray(a) for a in jax.jit(jax.vmap(orbit))(steps))
    np.testing.assert_allclose(high[1] / high[0], 2.0, rtol=0.01)
    assert np.all(low > 0.5 * np.asarray(steps))  # bounded away from z* = 0
    assert np.all(high < 300 * np.asarray(steps))
