"""Every update rule against an independent float64 NumPy recursion.

The game is a random affine one with pytree players,

    Φ(x, y) = ½ xᵀPx + xᵀBy − ½ yᵀQy + aᵀx + cᵀy,
    V(z) = M z + q,   M = [[P, B], [−Bᵀ, Q]],   q = [a, −c],

written in JAX on the pytrees (for the library) and as a matrix in NumPy (for the
reference). Each reference below is the rule's formula (docs/concepts.md) written as
a plain loop; none of it calls minimaxjax. Every rule is run three ways and must
visit the same evaluation points and commit the same iterates:

* transparent mode: one ``update`` per field evaluation, params at each
  evaluation point, ``mmx.iterate`` at iteration boundaries;
* opaque mode: one ``update(..., field=...)`` per iteration;
* ``mmx.solve``: the last iterate and ‖V‖ at every evaluation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

NUM_ITERATIONS = 7
TOL = 1e-9
ADAM_TOL = 1e-6
BOX = 0.3

# Player layout of the zero-sum game, flattened in this order: x["w"], x["b"], y[0],
# y[1]; 9 entries each. Few distinct leaf shapes keep eager dispatch (which compiles
# each primitive once per shape) cheap.
X_SHAPES = (("w", (2, 3)), ("b", (3,)))
Y_SHAPES = ((3,), (2, 3))
SIZES = (9, 9)


# ----------------------------------------------------------------------------------
# Step sizes: a float, a schedule of the optimizer's call count, or one per player.


def decaying(count):
    """α_t = 0.15 / (1 + t/4); works on NumPy and JAX integers alike."""
    return 0.15 / (1.0 + 0.25 * count.astype("float64"))


def growing(count):
    """α_t = 0.08 + 0.02 t."""
    return 0.08 + 0.02 * count.astype("float64")


def step_value(lr: Any, t: int) -> float:
    return float(lr(np.int64(t))) if callable(lr) else float(lr)


def step_vector(lr: Any, t: int, sizes: Sequence[int] = SIZES) -> np.ndarray:
    """The step of every coordinate at the optimizer's ``t``-th call (0-based)."""
    per_player = lr if isinstance(lr, tuple) else (lr,) * len(sizes)
    steps = [step_value(lr_i, t) for lr_i in per_player]
    return np.repeat(steps, sizes)


def player_slices(sizes: Sequence[int]) -> list[slice]:
    ends = np.cumsum(sizes)
    return [slice(int(e - n), int(e)) for e, n in zip(ends, sizes, strict=True)]


# ----------------------------------------------------------------------------------
# NumPy references: each returns (evaluation points, iterates z^0, …, z^N).

Reference = tuple[list[np.ndarray], list[np.ndarray]]
FlatField = Callable[[np.ndarray], np.ndarray]


def identity(w: np.ndarray) -> np.ndarray:
    return w


def clip_to_box(w: np.ndarray) -> np.ndarray:
    return np.clip(w, -BOX, BOX)


def reference_anchored(
    z0, V: FlatField, lr, scales: Sequence[float], project=identity
) -> Reference:
    """w_0 = z^k, w_{j+1} = P(z^k − s_j α_t V(w_j)), z^{k+1} = w_K; t counts calls.

    K = 1 is GDA, K = 2 with s = (1, 1) extragradient, s = (1, β) EG+, and K phases
    of scale 1 are K fixed-point steps of the proximal point method.
    """
    z, t = z0, 0
    points, iterates = [], [z0]
    for _ in range(NUM_ITERATIONS):
        w = z
        for s in scales:
            points.append(w)
            w = project(z - s * step_vector(lr, t) * V(w))
            t += 1
        z = w
        iterates.append(z)
    return points, iterates


def reference_optimistic(z0, V: FlatField, lr) -> Reference:
    """z^{k+1} = z^k − α_k [2V(z^k) − V(z^{k−1})], V(z^{−1}) := V(z^0)."""
    z, previous = z0, V(z0)
    points, iterates = [], [z0]
    for k in range(NUM_ITERATIONS):
        points.append(z)
        g = V(z)
        z = z - step_vector(lr, k) * (2.0 * g - previous)
        previous = g
        iterates.append(z)
    return points, iterates


def reference_reflected(z0, V: FlatField, lr, project=identity) -> Reference:
    """z^{k+1} = P(z^k − α_k V(2z^k − z^{k−1})), z^{−1} := z^0; the reflected point
    is not projected."""
    z, z_previous = z0, z0
    points, iterates = [], [z0]
    for k in range(NUM_ITERATIONS):
        w = 2.0 * z - z_previous
        points.append(w)
        z_previous, z = z, project(z - step_vector(lr, k) * V(w))
        iterates.append(z)
    return points, iterates


def reference_alternating(z0, V: FlatField, lr, sizes=SIZES) -> Reference:
    """Players in order, each with the others' latest values; each player's step
    counts that player's moves (one per iteration)."""
    z = z0.copy()
    points, iterates = [], [z0]
    for k in range(NUM_ITERATIONS):
        steps = step_vector(lr, k, sizes)
        for block in player_slices(sizes):
            points.append(z.copy())
            z[block] = z[block] - steps[block] * V(z)[block]
        iterates.append(z.copy())
    return points, iterates


def reference_extra_adam(z0, V: FlatField, lr, b1, b2, eps) -> Reference:
    """Gidel et al. 2019: both phases step from z^k with Adam, whose moments and
    count t advance at both evaluations:

    m ← b1 m + (1−b1) g,  v ← b2 v + (1−b2) g²,
    w = z^k − α_{t−1} (m / (1 − b1^t)) / (√(v / (1 − b2^t)) + eps).
    """
    z, t = z0, 0
    m, v = np.zeros_like(z0), np.zeros_like(z0)
    points, iterates = [], [z0]
    for _ in range(NUM_ITERATIONS):
        w = z
        for _ in range(2):
            points.append(w)
            g = V(w)
            t += 1
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * g**2
            m_hat, v_hat = m / (1.0 - b1**t), v / (1.0 - b2**t)
            w = z - step_vector(lr, t - 1) * m_hat / (np.sqrt(v_hat) + eps)
        z = w
        iterates.append(z)
    return points, iterates


# ----------------------------------------------------------------------------------
# Games.


class Game(NamedTuple):
    field: Callable[..., Any]  # the library's V on pytrees
    matrix: np.ndarray
    offset: np.ndarray
    z0: np.ndarray  # flat
    flatten: Callable[[Any], np.ndarray]
    unflatten: Callable[[np.ndarray], Any]

    def reference_field(self, w: np.ndarray) -> np.ndarray:
        return self.matrix @ w + self.offset


def psd(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    s = rng.standard_normal((n, n))
    return scale * s @ s.T / n


def flatten_pair(z: Any) -> np.ndarray:
    x, y = z
    leaves = [x[name] for name, _ in X_SHAPES] + list(y)
    return np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in leaves])


def unflatten_pair(w: np.ndarray) -> Any:
    pieces, start = [], 0
    for shape in [s for _, s in X_SHAPES] + list(Y_SHAPES):
        size = int(np.prod(shape))
        pieces.append(jnp.asarray(w[start : start + size].reshape(shape)))
        start += size
    x = {name: pieces[i] for i, (name, _) in enumerate(X_SHAPES)}
    return (x, pieces[len(X_SHAPES) :])


def ravel_jnp(leaves: Sequence[Any]) -> Any:
    return jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])


def make_affine_game() -> Game:
    rng = np.random.default_rng(0)
    nx, ny = SIZES
    P, Q = psd(rng, nx, 0.5), psd(rng, ny, 0.5)
    B = rng.standard_normal((nx, ny)) / np.sqrt(nx + ny)
    a, c = 0.3 * rng.standard_normal(nx), 0.3 * rng.standard_normal(ny)
    P_, Q_, B_, a_, c_ = (jnp.asarray(m, jnp.float64) for m in (P, Q, B, a, c))

    def phi(x, y):
        u = ravel_jnp([x[name] for name, _ in X_SHAPES])
        v = ravel_jnp(y)
        return 0.5 * u @ P_ @ u + u @ B_ @ v - 0.5 * v @ Q_ @ v + a_ @ u + c_ @ v

    return Game(
        field=mmx.field(phi),
        matrix=np.block([[P, B], [-B.T, Q]]),
        offset=np.concatenate([a, -c]),
        z0=0.5 * rng.standard_normal(nx + ny),
        flatten=flatten_pair,
        unflatten=unflatten_pair,
    )


# A general-sum game of three players z = (z_0, {"u": z_1u, "v": z_1v}, z_2) of
# shapes (3,), (2,), (2, 2), (2,), with
# losses ℓ_i(z) = ½ z_iᵀ S_i z_i + Σ_{j≠i} z_iᵀ C_ij z_j + b_iᵀ z_i, so
# V_i(z) = ∇_{z_i} ℓ_i = S_i z_i + Σ_{j≠i} C_ij z_j + b_i, i.e. V(z) = A z + b.
THREE_SIZES = (3, 6, 2)


def flatten_three(z: Any) -> np.ndarray:
    leaves = [z[0], z[1]["u"], z[1]["v"], z[2]]
    return np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in leaves])


def unflatten_three(w: np.ndarray) -> Any:
    w = np.asarray(w)
    return (
        jnp.asarray(w[0:3]),
        {"u": jnp.asarray(w[3:5]), "v": jnp.asarray(w[5:9].reshape(2, 2))},
        jnp.asarray(w[9:11]),
    )


def make_three_player_game() -> Game:
    rng = np.random.default_rng(1)
    n = sum(THREE_SIZES)
    blocks = player_slices(THREE_SIZES)
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    for i, block in enumerate(blocks):
        A[block, block] = psd(rng, THREE_SIZES[i], 1.0)
    b = 0.3 * rng.standard_normal(n)
    A_, b_ = jnp.asarray(A, jnp.float64), jnp.asarray(b, jnp.float64)

    def player_vector(z, i):
        if i == 1:
            return ravel_jnp([z[1]["u"], z[1]["v"]])
        return jnp.ravel(z[i])

    def loss(i):
        rows = blocks[i]

        def loss_i(z):
            u = [player_vector(z, j) for j in range(3)]
            value = 0.5 * u[i] @ A_[rows, rows] @ u[i] + b_[rows] @ u[i]
            for j in range(3):
                if j != i:
                    value = value + u[i] @ A_[rows, blocks[j]] @ u[j]
            return value

        return loss_i

    return Game(
        field=mmx.game_field(tuple(loss(i) for i in range(3))),
        matrix=A,
        offset=b,
        z0=0.5 * rng.standard_normal(n),
        flatten=flatten_three,
        unflatten=unflatten_three,
    )


# Built once per session (their arrays are float64) and with a jitted field, so the
# eager loops below spend their time in the rules rather than in Φ's gradient.
@functools.cache
def jitted(make: Callable[[], Game]) -> Game:
    game = make()
    return game._replace(field=jax.jit(game.field))


@pytest.fixture
def game(x64):
    return jitted(make_affine_game)


@pytest.fixture
def three_player_game(x64):
    return jitted(make_three_player_game)


# ----------------------------------------------------------------------------------
# The three ways to run a rule, each returning (evaluation points, iterates).


def run_transparent(game: Game, opt, calls: int) -> Reference:
    z = game.unflatten(game.z0)
    state = opt.init(z)
    update = opt.update
    if isinstance(state, mmx.AlternatingState):
        # Its lax.switch would retrace fresh branch closures at every eager call.
        update = jax.jit(opt.update)
    points, iterates = [], [game.flatten(mmx.iterate(z, state))]
    for _ in range(NUM_ITERATIONS):
        for _ in range(calls):
            points.append(game.flatten(z))
            updates, state = update(game.field(z), state, z)
            z = optax.apply_updates(z, updates)
        iterates.append(game.flatten(mmx.iterate(z, state)))
    return points, iterates


def run_opaque(game: Game, opt, calls: int) -> Reference:
    z = game.unflatten(game.z0)
    state = opt.init(z)
    points, iterates = [], [game.flatten(mmx.iterate(z, state))]
    phases: list[int] = []

    def field(w, phase):
        phases.append(phase)
        points.append(game.flatten(w))
        return game.field(w)

    for _ in range(NUM_ITERATIONS):
        points.append(game.flatten(z))
        updates, state = opt.update(game.field(z), state, z, field=field)
        z = optax.apply_updates(z, updates)
        iterates.append(game.flatten(mmx.iterate(z, state)))
    # The caller evaluates phase 0; the rule asks for phases 1, …, K−1 in order.
    assert phases == list(range(1, calls)) * NUM_ITERATIONS
    return points, iterates


def assert_close(actual, desired, tol: float, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(desired), rtol=tol, atol=tol, err_msg=what
    )


def check_rule(game: Game, mode: str, opt, reference: Reference, calls: int, tol):
    ref_points, ref_iterates = reference
    assert len(ref_points) == calls * NUM_ITERATIONS
    if mode == "solve":
        sol = mmx.solve(game.field, game.unflatten(game.z0), opt, len(ref_points))
        assert int(sol.status) == mmx.Status.MAX_STEPS
        assert int(sol.stats["num_evaluations"]) == len(ref_points)
        assert int(sol.stats["num_iterations"]) == NUM_ITERATIONS
        assert_close(game.flatten(sol.params), ref_iterates[-1], tol, "sol.params")
        ref_norms = [np.linalg.norm(game.reference_field(w)) for w in ref_points]
        assert_close(sol.trace["field_norm"], ref_norms, tol, "field_norm")
        return
    run = run_transparent if mode == "transparent" else run_opaque
    points, iterates = run(game, opt, calls)
    assert_close(np.stack(points), np.stack(ref_points), tol, "evaluation points")
    assert_close(np.stack(iterates), np.stack(ref_iterates), tol, "iterates")


# ----------------------------------------------------------------------------------
# The cases. Every case runs in transparent and opaque mode; compiling solve costs
# about a second, so each rule runs under solve once, in its most demanding variant.


class Case(NamedTuple):
    make: Callable[[], Any]  # the optimizer (called under float64)
    reference: Callable[[np.ndarray, FlatField], Reference]
    calls: int  # field evaluations per iteration
    tol: float = TOL
    solve: bool = False  # also run it under mmx.solve
    # optax.adam's bias correction computes `decay ** count` (a Python float to an
    # int32 power), which strict dtype promotion rejects: optax's, not minimaxjax's.
    strict: bool = True


def anchored(lr, scales, project=identity):
    return lambda z0, V: reference_anchored(z0, V, lr, scales, project)


def alternated(lr):
    return lambda z0, V: reference_alternating(z0, V, lr)


def optimistic(lr):
    return lambda z0, V: reference_optimistic(z0, V, lr)


def reflected(lr, project=identity):
    return lambda z0, V: reference_reflected(z0, V, lr, project)


def adam_anchored(lr, b1, b2, eps):
    return lambda z0, V: reference_extra_adam(z0, V, lr, b1, b2, eps)


def box():
    return mmx.constraints.box(-BOX, BOX)


CASES = {
    "gda": Case(lambda: mmx.gda(0.1), anchored(0.1, (1.0,)), 1),
    "gda-two-timescale": Case(
        lambda: mmx.gda((0.05, 0.2)), anchored((0.05, 0.2), (1.0,)), 1, solve=True
    ),
    "gda-schedule": Case(lambda: mmx.gda(decaying), anchored(decaying, (1.0,)), 1),
    "gda-projection": Case(
        lambda: mmx.gda(0.1, projection=box()), anchored(0.1, (1.0,), clip_to_box), 1
    ),
    "alternating_gda": Case(lambda: mmx.alternating_gda(0.1), alternated(0.1), 2),
    "alternating_gda-two-timescale": Case(
        lambda: mmx.alternating_gda((0.05, 0.2)), alternated((0.05, 0.2)), 2
    ),
    # One optimizer with a state per player: each player's count is its own moves.
    "alternating_gda-schedule": Case(
        lambda: mmx.alternating_gda(decaying), alternated(decaying), 2
    ),
    "alternating_gda-two-schedules": Case(
        lambda: mmx.alternating_gda((decaying, growing)),
        alternated((decaying, growing)),
        2,
    ),
    "proximal_point": Case(
        lambda: mmx.proximal_point(0.1, inner_steps=3), anchored(0.1, (1.0,) * 3), 3
    ),
    # The schedule advances at every field evaluation, inner steps included.
    "proximal_point-schedule": Case(
        lambda: mmx.proximal_point(decaying, inner_steps=3),
        anchored(decaying, (1.0,) * 3),
        3,
        solve=True,
    ),
    "extragradient": Case(
        lambda: mmx.extragradient(0.1), anchored(0.1, (1.0, 1.0)), 2, solve=True
    ),
    "extragradient-two-timescale": Case(
        lambda: mmx.extragradient((0.05, 0.2)), anchored((0.05, 0.2), (1.0, 1.0)), 2
    ),
    "extragradient-schedule": Case(
        lambda: mmx.extragradient(decaying), anchored(decaying, (1.0, 1.0)), 2
    ),
    "extragradient-two-schedules": Case(
        lambda: mmx.extragradient((decaying, growing)),
        anchored((decaying, growing), (1.0, 1.0)),
        2,
    ),
    # Both the extrapolated and the committed point are projected.
    "extragradient-projection": Case(
        lambda: mmx.extragradient(0.1, projection=box()),
        anchored(0.1, (1.0, 1.0), clip_to_box),
        2,
    ),
    "extragradient_plus": Case(
        lambda: mmx.extragradient_plus(0.2, update_ratio=0.5),
        anchored(0.2, (1.0, 0.5)),
        2,
        solve=True,
    ),
    "extragradient_plus-two-timescale": Case(
        lambda: mmx.extragradient_plus((0.1, 0.3), update_ratio=0.3),
        anchored((0.1, 0.3), (1.0, 0.3)),
        2,
    ),
    "optimistic_gda": Case(lambda: mmx.optimistic_gda(0.1), optimistic(0.1), 1),
    "optimistic_gda-schedule": Case(
        lambda: mmx.optimistic_gda(decaying), optimistic(decaying), 1, solve=True
    ),
    "reflected_gda": Case(lambda: mmx.reflected_gda(0.1), reflected(0.1), 1),
    "reflected_gda-two-timescale": Case(
        lambda: mmx.reflected_gda((0.05, 0.2)), reflected((0.05, 0.2)), 1
    ),
    # z^{k+1} is projected, the reflected point 2z^k − z^{k−1} is not.
    "reflected_gda-projection": Case(
        lambda: mmx.reflected_gda(0.1, projection=box()),
        reflected(0.1, clip_to_box),
        1,
        solve=True,
    ),
    "extra_adam": Case(
        lambda: mmx.extra_adam(0.05),
        adam_anchored(0.05, 0.9, 0.999, 1e-8),
        2,
        ADAM_TOL,
        strict=False,
    ),
    "extra_adam-gidel": Case(
        lambda: mmx.extra_adam(0.05, b1=0.5, b2=0.9, eps=1e-3),
        adam_anchored(0.05, 0.5, 0.9, 1e-3),
        2,
        ADAM_TOL,
        solve=True,
        strict=False,
    ),
    "extra_adam-two-timescale": Case(
        lambda: mmx.extra_adam((0.02, 0.05), b1=0.5, b2=0.9),
        adam_anchored((0.02, 0.05), 0.5, 0.9, 1e-8),
        2,
        ADAM_TOL,
        strict=False,
    ),
    "extra_adam-schedule": Case(
        lambda: mmx.extra_adam(decaying, b1=0.5, b2=0.9),
        adam_anchored(decaying, 0.5, 0.9, 1e-8),
        2,
        ADAM_TOL,
        strict=False,
    ),
}

RULE_MODES = [
    pytest.param(
        name,
        mode,
        id=f"{name}-{mode}",
        marks=() if case.strict else pytest.mark.standard_promotion,
    )
    for name, case in CASES.items()
    for mode in ("transparent", "opaque", "solve")
    if mode != "solve" or case.solve
]


def test_field_is_the_affine_operator(game):
    rng = np.random.default_rng(2)
    for _ in range(3):
        w = rng.standard_normal(sum(SIZES))
        value = game.field(game.unflatten(w))
        assert {leaf.dtype for leaf in jax.tree.leaves(value)} == {np.dtype(np.float64)}
        assert_close(game.flatten(value), game.reference_field(w), 1e-12, "V(z)")


def test_three_player_field_is_the_affine_operator(three_player_game):
    game = three_player_game
    w = np.random.default_rng(3).standard_normal(sum(THREE_SIZES))
    assert_close(
        game.flatten(game.field(game.unflatten(w))),
        game.reference_field(w),
        1e-12,
        "V(z)",
    )


@pytest.mark.parametrize(("name", "mode"), RULE_MODES)
def test_rule_matches_reference(game, name, mode):
    case = CASES[name]
    reference = case.reference(game.z0, game.reference_field)
    check_rule(game, mode, case.make(), reference, case.calls, case.tol)


THREE_PLAYER_LRS = {"shared": 0.1, "per-player": (decaying, 0.1, growing)}


@pytest.mark.parametrize(
    ("lr", "mode"),
    [
        ("shared", "transparent"),
        ("shared", "opaque"),
        ("per-player", "transparent"),
        ("per-player", "opaque"),
        ("per-player", "solve"),
    ],
)
def test_alternating_three_players(three_player_game, lr, mode):
    """Three players of a general-sum game move in order, each seeing the others'
    latest values and counting its own moves for its schedule."""
    game = three_player_game
    lr = THREE_PLAYER_LRS[lr]
    reference = reference_alternating(
        game.z0, game.reference_field, lr, sizes=THREE_SIZES
    )
    check_rule(game, mode, mmx.alternating_gda(lr), reference, 3, TOL)


def test_projections_are_active(game):
    """The projected cases would pass vacuously if the box never clipped, and the
    reflected case could not tell the reflected point from its projection."""
    V = game.reference_field
    for reference in (
        lambda project: reference_anchored(game.z0, V, 0.1, (1.0, 1.0), project),
        lambda project: reference_reflected(game.z0, V, 0.1, project),
    ):
        _, projected = reference(clip_to_box)
        _, free = reference(identity)
        assert np.max(np.abs(np.stack(projected[1:]))) == pytest.approx(BOX)
        assert np.max(np.abs(projected[-1] - free[-1])) > 1e-2
    points, _ = reference_reflected(game.z0, V, 0.1, clip_to_box)
    assert np.max(np.abs(np.stack(points[1:]))) > BOX + 1e-2
