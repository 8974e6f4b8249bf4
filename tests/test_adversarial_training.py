"""DDi's minimum-norm direction, SAM as an ``extra`` construction and the sine toy
model of catastrophic overfitting, against closed forms and references computed
here."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import minimaxjax as mmx
from minimaxjax.adversarial import min_norm_direction, sam, sine_toy_training

# --------------------------------------------------------------------------- DDi


def min_norm_reference(vectors):
    """min_{λ ∈ Δ} ‖Σ λ_k v_k‖² in float64 NumPy by enumerating the faces of the
    simplex: on each face the KKT system of the equality-constrained QP is linear;
    the best feasible face is optimal. Returns (direction, value)."""
    vectors = np.asarray(vectors, np.float64)
    gram = vectors @ vectors.T
    best = None
    for size in range(1, len(vectors) + 1):
        for face in itertools.combinations(range(len(vectors)), size):
            idx = list(face)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = 2 * gram[np.ix_(idx, idx)]
            kkt[:size, size] = 1
            kkt[size, :size] = 1
            rhs = np.zeros(size + 1)
            rhs[size] = 1
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if np.any(sol < -1e-12) or abs(sol.sum() - 1) > 1e-9:
                continue
            direction = sol @ vectors[idx]
            value = direction @ direction
            if best is None or value < best[1]:
                best = (direction, value)
    return best


def test_orthogonal_unit_vectors_get_equal_weights(x64):
    d, weights = min_norm_direction(jnp.eye(2), num_steps=500)
    np.testing.assert_allclose(weights, [0.5, 0.5], atol=1e-10)
    np.testing.assert_allclose(d, [0.5, 0.5], atol=1e-10)


@pytest.mark.parametrize(
    ("u", "v"),
    [
        ([1.0, 2.0, -1.0], [-2.0, 0.5, 3.0]),  # interior of the segment
        ([0.3, 0.1, 0.0], [3.0, 1.5, 0.5]),  # u is the nearest point to 0
        ([2.0, -1.0, 1.0], [0.2, 0.1, -0.1]),  # v is the nearest point to 0
    ],
)
def test_two_gradients_match_the_segment_closed_form(x64, u, v):
    u, v = np.array(u), np.array(v)
    # min_t ‖u + t(v − u)‖² on [0, 1]: t = clip(⟨u, u − v⟩ / ‖u − v‖², 0, 1).
    t = np.clip(u @ (u - v) / ((u - v) @ (u - v)), 0, 1)
    d, weights = min_norm_direction(jnp.asarray(np.stack([u, v])), num_steps=2000)
    np.testing.assert_allclose(weights, [1 - t, t], atol=1e-8)
    np.testing.assert_allclose(d, (1 - t) * u + t * v, atol=1e-8)


@pytest.mark.parametrize(("num", "dim"), [(4, 10), (6, 3)])
def test_pytree_gradients_match_a_face_enumerating_reference(x64, num, dim):
    rng = np.random.default_rng(num)
    vectors = rng.normal(size=(num, dim)) + 0.5  # a shared offset: 0 not in the hull
    # The same vectors spread over a nested pytree of two leaves.
    tree = {"w": jnp.asarray(vectors[:, :2].reshape(num, 2, 1)), "b": [vectors[:, 2:]]}
    d, weights = min_norm_direction(tree, num_steps=5000)
    expected, value = min_norm_reference(vectors)
    flat = np.concatenate([np.ravel(d["w"]), np.ravel(d["b"][0])])
    np.testing.assert_allclose(flat, expected, atol=1e-6)
    np.testing.assert_allclose(flat @ flat, value, rtol=1e-8, atol=1e-12)
    assert np.all(np.asarray(weights) >= 0)
    np.testing.assert_allclose(np.sum(weights), 1.0, atol=1e-12)
    # λ is unique when the Gram matrix is positive definite (K ≤ dim here).
    if num <= dim:
        ref_weights = _weights_from_direction(vectors, expected)
        np.testing.assert_allclose(weights, ref_weights, atol=1e-5)


def _weights_from_direction(vectors, direction):
    # Σ λ_k v_k = d with Σ λ_k = 1: a full-column-rank linear system for K ≤ dim.
    system = np.vstack([vectors.T, np.ones(len(vectors))])
    rhs = np.concatenate([direction, [1.0]])
    return np.linalg.lstsq(system, rhs, rcond=None)[0]


def test_danskins_counterexample_one_maximisers_gradient_ascends_ddi_stops():
    # f(x) = max_{δ ∈ [−1, 1]} x δ = |x|; at x = 0 every δ is a maximiser.
    phi = lambda x, delta: x * delta  # noqa: E731
    f = jnp.abs
    x = jnp.array(0.0)
    maximisers = jnp.array([-1.0, 1.0])
    assert np.all(np.asarray(phi(x, maximisers)) == np.asarray(f(x)))
    grads = jax.vmap(jax.grad(phi), in_axes=(None, 0))(x, maximisers)
    # The gradient at δ = 1 alone: stepping along −g raises f for every step t.
    g = grads[1]
    for t in (1e-3, 0.1, 1.0):
        assert f(x - t * g) == pytest.approx(t)
        assert f(x - t * g) > f(x)
    d, weights = min_norm_direction(grads[:, None])
    np.testing.assert_allclose(d, [0.0], atol=1e-7)
    np.testing.assert_allclose(weights, [0.5, 0.5], atol=1e-6)
    # Away from the kink the maximiser δ = sign(x) is unique and −d descends.
    x = jnp.array(0.5)
    grads = jax.vmap(jax.grad(phi), in_axes=(None, 0))(x, jnp.array([1.0, 1.0]))
    d, _ = min_norm_direction(grads[:, None])
    assert f(x - 0.1 * d[0]) < f(x)


def test_dtypes_jit_and_input_checks():
    grads = {"a": jnp.ones((3, 2), jnp.bfloat16), "b": jnp.arange(3.0)[:, None]}
    d, weights = jax.jit(min_norm_direction)(grads)
    assert d["a"].dtype == jnp.bfloat16 and d["a"].shape == (2,)
    assert d["b"].dtype == jnp.float32 and weights.shape == (3,)
    with pytest.raises(ValueError, match="leading axis K"):
        min_norm_direction({"a": jnp.ones((3, 2)), "b": jnp.ones((2, 2))})
    with pytest.raises(ValueError, match="no leaves"):
        min_norm_direction({})
    with pytest.raises(ValueError, match="num_steps"):
        min_norm_direction(jnp.ones((2, 1)), num_steps=0)


# --------------------------------------------------------------------------- SAM

_MATRIX = np.array([[3.0, 1.0], [1.0, 2.0]])
_TARGET = np.array([1.0, -1.0])


def _loss(w):
    # A quadratic in one leaf and a logistic loss in the other.
    return (
        0.5 * w["a"] @ jnp.asarray(_MATRIX) @ w["a"]
        - jnp.asarray(_TARGET) @ w["a"]
        + jnp.sum(jax.nn.softplus(-2.0 * w["c"]))
    )


_GRAD = jax.grad(_loss)
_START = {"a": np.array([2.0, -3.0]), "c": np.array([0.3, -0.7])}


def _reference_sam(learning_rate, rho, **kwargs):
    adversary = optax.chain(optax.contrib.normalize(), optax.sgd(rho))
    return optax.contrib.sam(optax.sgd(learning_rate), adversary, **kwargs)


def test_sam_matches_its_definition_step_by_step(x64):
    # w̄ = w + ρ g/‖g‖, w⁺ = w − α ∇L(w̄), in float64 NumPy.
    def numpy_grad(w):
        return {
            "a": _MATRIX @ w["a"] - _TARGET,
            "c": -2.0 / (1.0 + np.exp(2.0 * w["c"])),
        }

    alpha, rho = 0.1, 0.3
    opt = sam(alpha, rho)
    w = jax.tree.map(jnp.asarray, _START)
    state = opt.init(w)
    expected = dict(_START)

    @jax.jit
    def step(w, state):
        updates, state = opt.update(_GRAD(w), state, w, field=lambda v, _: _GRAD(v))
        return optax.apply_updates(w, updates), state

    for _ in range(8):
        g = numpy_grad(expected)
        norm = np.sqrt(sum(np.sum(v**2) for v in g.values()))
        perturbed = {k: expected[k] + rho * g[k] / norm for k in g}
        expected = {
            k: expected[k] - alpha * v for k, v in numpy_grad(perturbed).items()
        }
        w, state = step(w, state)
        for k in expected:
            np.testing.assert_allclose(w[k], expected[k], rtol=1e-12, atol=1e-12)


def _run(opt, num_calls, *, opaque, keyword="field"):
    """Params after each of ``num_calls`` updates, in one jitted scan."""
    w = jax.tree.map(jnp.asarray, _START)

    def body(carry, _):
        w, state = carry
        extra = {keyword: lambda p, _: _GRAD(p)} if opaque else {}
        updates, state = opt.update(_GRAD(w), state, w, **extra)
        w = optax.apply_updates(w, updates)
        return (w, state), w

    (_, state), path = jax.jit(
        lambda w: jax.lax.scan(body, (w, opt.init(w)), length=num_calls)
    )(w)
    return path, state


def _assert_paths_equal(ours, theirs):
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-13), ours, theirs
    )


def test_opaque_mode_equals_optax_contrib_sam(x64):
    ours, _ = _run(sam(0.1, 0.2), 10, opaque=True)
    theirs, _ = _run(
        _reference_sam(0.1, 0.2, opaque_mode=True), 10, opaque=True, keyword="grad_fn"
    )
    _assert_paths_equal(ours, theirs)


@pytest.mark.standard_promotion  # optax's transparent SAM multiplies by a bool
def test_transparent_mode_equals_optax_contrib_sam_call_by_call(x64):
    # 10 iterations, params visiting w̄ in between: compared after every call.
    ours, state = _run(sam(0.1, 0.2), 20, opaque=False)
    theirs, _ = _run(_reference_sam(0.1, 0.2, sync_period=2), 20, opaque=False)
    _assert_paths_equal(ours, theirs)
    # After an even number of calls the committed weights are the params.
    last = jax.tree.map(lambda a: a[-1], ours)
    jax.tree.map(np.testing.assert_array_equal, mmx.iterate(last, state), last)


@pytest.mark.standard_promotion  # optax's Adam is not strict-promotion clean
def test_another_descent_optimizer_equals_optax_contrib_sam(x64):
    adversary = optax.chain(optax.contrib.normalize(), optax.sgd(0.2))
    theirs = optax.contrib.sam(optax.adam(0.05), adversary, opaque_mode=True)
    ours, _ = _run(sam(rho=0.2, descent=optax.adam(0.05)), 10, opaque=True)
    theirs, _ = _run(theirs, 10, opaque=True, keyword="grad_fn")
    _assert_paths_equal(ours, theirs)


def test_sam_at_a_stationary_point_stays_there():
    # A zero gradient has no ascent direction: w̄ = w, and w⁺ = w − α·0 = w.
    opt = sam(0.1, 0.2)
    w = {"a": jnp.zeros(2), "c": jnp.zeros(1)}
    zero = lambda v, _: jax.tree.map(jnp.zeros_like, v)  # noqa: E731
    updates, _ = opt.update(zero(w, 0), opt.init(w), w, field=zero)
    jax.tree.map(lambda u: np.testing.assert_array_equal(u, 0.0), updates)


def test_sam_needs_exactly_one_of_learning_rate_and_descent():
    with pytest.raises(ValueError, match="exactly one"):
        sam()
    with pytest.raises(ValueError, match="exactly one"):
        sam(0.1, descent=optax.sgd(0.1))


# ------------------------------------------------------------- the sine toy model


def _worst_margin(x, epsilon):
    # By symmetry both points share the margin sin(x(π/2 + δ)); its minimum over
    # |δ| ≤ ε on a fine grid (float64 NumPy), independent of the attacks.
    delta = np.linspace(-epsilon, epsilon, 20001)
    return np.min(np.sin(x * (np.pi / 2 + delta)))


def _fgsm_margin(x, epsilon):
    # FGSM lowers the margin along the sign of its δ-derivative at δ = 0.
    delta = -epsilon * np.sign(x * np.cos(x * np.pi / 2))
    return np.sin(x * (np.pi / 2 + delta))


def test_fgsm_training_breaks_down_above_pi_over_8_and_pgd_does_not():
    grid = np.round(np.arange(0.10, 0.70, 0.02), 2)
    starts = np.linspace(0.1, 8.0, 80)
    train = jax.jit(sine_toy_training, static_argnames=("attack",))
    broken = {}
    for attack in ("fgsm", "pgd"):
        x, loss = train(
            jnp.asarray(np.broadcast_to(starts, (len(grid), len(starts))), jnp.float32),
            jnp.asarray(grid[:, None], jnp.float32),
            attack=attack,
        )
        # The run FGSM/PGD training itself prefers: the lowest training loss.
        best = np.asarray(x)[np.arange(len(grid)), np.argmin(np.asarray(loss), 1)]
        robust = np.array(
            [_worst_margin(b, e) > 0 for b, e in zip(best, grid, strict=True)]
        )
        broken[attack] = grid[~robust]
        if attack == "fgsm":
            # The signature of catastrophic overfitting: FGSM sees every point
            # classified correctly where the true worst case misclassifies them.
            assert all(_fgsm_margin(b, e) > 0 for b, e in zip(best, grid, strict=True))
    # ε_c = π/8: FGSM breaks down on exactly the grid points above it.
    np.testing.assert_array_equal(broken["fgsm"], grid[grid > np.pi / 8])
    assert broken["pgd"].size == 0
