"""Properties every draw must have, checked on random games with hypothesis.

The games are affine and strongly monotone, ``V(z) = Az + b`` with ``A = S + P``,
``S`` skew-symmetric and ``P = BBᵀ + μI``: ``‖V(z) − V(w)‖ ≤ L‖z − w‖`` with
``L = ‖A‖₂`` and ``⟨V(z) − V(w), z − w⟩ ≥ μ‖z − w‖²`` with ``μ = λ_min(P)``, the
unique solution ``z* = −A⁻¹b``; all three computed here with NumPy in float64.
A game of ``d = 2…6`` coordinates is placed in a ``(3, 3)``-player tensor whose
other rows and columns of ``A`` and ``b`` are zero: there ``V`` is exactly 0 and
the iterates stay exactly 0, so every draw has the same shapes and each rule
compiles once (the matrices, the start and the step are arguments of the jitted
run, never constants).
"""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minimaxjax as mmx

HALF = 3  # coordinates per player in the padded layout
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RULES = mmx.rules.RULES
ADAM = {"extra_adam"}  # optax's Adam takes b1 ** count with an int count
every_rule = pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.standard_promotion) if n in ADAM else n
        for n in sorted(RULES)
    ],
)


def field(z, A, b):
    """``V(z) = A [x; y] + b`` on ``z = (x, y)``."""
    x, y = z
    v = A @ jnp.concatenate([x, y]) + b
    return v[:HALF], v[HALF:]


class Game:
    """A drawn game, padded, with its constants from NumPy in float64."""

    def __init__(self, A, b, z0):
        d = len(A)
        dx = (d + 1) // 2
        self.index = np.r_[0:dx, HALF : HALF + d - dx]  # the coordinates in use
        self.d = d
        self.A = np.zeros((2 * HALF, 2 * HALF))
        self.A[np.ix_(self.index, self.index)] = A
        self.b = np.zeros(2 * HALF)
        self.b[self.index] = b
        self.z0 = np.zeros(2 * HALF)
        self.z0[self.index] = z0
        self.solution = np.zeros(2 * HALF)
        self.solution[self.index] = -np.linalg.solve(A, b)
        self.lipschitz = np.linalg.norm(A, 2)
        self.mu = np.linalg.eigvalsh((A + A.T) / 2).min()

    def start(self, dtype=jnp.float64):
        return (
            jnp.asarray(self.z0[:HALF], dtype),
            jnp.asarray(self.z0[HALF:], dtype),
        )

    def distances(self, iterates):
        """‖z − z*‖ for each of a stack of iterates ``(xs, ys)``."""
        stacked = np.concatenate([np.asarray(v, np.float64) for v in iterates], -1)
        return np.linalg.norm(stacked - self.solution, axis=-1)


@st.composite
def games(draw, mu=(0.5, 1.5)):
    """``A = S + BBᵀ + μI`` with ``|S_ij| ≤ 1``, ``|B_ij| ≤ 1/2``, ``b`` and ``z0``
    in a box: ``L ≤ √30 + 9 + μ`` and ``L/μ ≤ 32`` for the default μ."""
    d = draw(st.integers(2, 6))
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
    M = draw(hnp.arrays(np.float64, (d, d), elements=unit))
    B = 0.5 * draw(hnp.arrays(np.float64, (d, d), elements=unit))
    shift = draw(st.floats(*mu))
    b = draw(hnp.arrays(np.float64, d, elements=unit))
    z0 = 2.0 * draw(hnp.arrays(np.float64, d, elements=unit))
    A = (M - M.T) / 2 + B @ B.T + shift * np.eye(d)
    return Game(A, b, z0)


@functools.cache
def runner(name, num_steps, save_every, **options):
    """``run(A, b, z0, lr)``: the rule's solve with every iterate saved, jitted."""

    def run(A, b, z0, lr):
        opt = RULES[name].build(lr, **options)
        return mmx.solve(field, z0, opt, num_steps, args=(A, b), save_every=save_every)

    return jax.jit(run)


def solve(game, name, lr, num_steps, save_every, **options):
    run = runner(name, num_steps, save_every, **options)
    return run(jnp.asarray(game.A), jnp.asarray(game.b), game.start(), lr)


def check_contraction(game, sol, rate, num_iterations):
    """``‖z^{k+1} − z*‖ ≤ rate ‖z^k − z*‖`` at every iteration (to rounding),
    and the whole run decreases the distance by a clear factor."""
    assert int(sol.status) == mmx.Status.MAX_STEPS
    distance = game.distances(sol.trace["iterates"])
    assert len(distance) == num_iterations + 1
    note(f"d={game.d} L={game.lipschitz:.3g} mu={game.mu:.3g} rate={rate:.6f}")
    assert rate < 1
    slack = 1e-9 * distance[0] + 1e-12
    assert np.all(distance[1:] <= rate * distance[:-1] + slack)
    assert rate**num_iterations <= 0.1  # the bound promises a clear decrease
    assert distance[-1] <= rate**num_iterations * distance[0] + slack


@given(games(), st.floats(0.5, 0.99))
@SETTINGS
def test_extragradient_contracts_at_the_known_rate(game, fraction):
    """Korpelevich's inequality, for ``η ≤ 1/(2L)``: ``‖z⁺ − z*‖² ≤ ‖z − z*‖² −
    (1 − η²L²)‖z − z̄‖² − 2η⟨V(z̄), z̄ − z*⟩``; with ``⟨V(z̄), z̄ − z*⟩ ≥ μ‖z̄ −
    z*‖²`` and ``1 − η²L² ≥ ημ`` the decrease is at least ``ημ(‖z − z̄‖² + ‖z̄ −
    z*‖²) ≥ ημ/2 ‖z − z*‖²``: the rate is ``√(1 − ημ/2)``."""
    with jax.enable_x64(True):
        lr = fraction / (2 * game.lipschitz)
        sol = solve(game, "extragradient", lr, 4000, 2)
        check_contraction(game, sol, np.sqrt(1 - lr * game.mu / 2), 2000)


@given(games(), st.floats(0.5, 0.99))
@SETTINGS
def test_proximal_point_contracts_at_the_known_rate(game, fraction):
    """The resolvent ``(I + ηA)⁻¹`` of a μ-strongly monotone operator contracts
    by ``1/(1 + ημ)``; ``K`` fixed-point steps from ``z`` leave an error
    ``(−ηA)^K (z − z⁺)``, at most ``2(ηL)^K ‖z − z*‖``. With ``ηL ≤ 1/2``."""
    inner = RULES["proximal_point"].options["inner_steps"]
    with jax.enable_x64(True):
        lr = fraction / (2 * game.lipschitz)
        sol = solve(game, "proximal_point", lr, 500 * inner, inner)
        rate = 1 / (1 + lr * game.mu) + 2 * (lr * game.lipschitz) ** inner
        check_contraction(game, sol, rate, 500)


@given(games(mu=(1.0, 2.0)), st.floats(0.5, 0.99))
@SETTINGS
def test_gda_contracts_on_a_strongly_monotone_game(game, fraction):
    """``‖(I − ηA)e‖² ≤ (1 − 2ημ + η²L²)‖e‖²``, below 1 for ``η < 2μ/L²``; the
    draws take ``η = fraction · μ/L²``."""
    with jax.enable_x64(True):
        lr = fraction * game.mu / game.lipschitz**2
        sol = solve(game, "gda", lr, 3000, 1)
        rate = np.sqrt(1 - 2 * lr * game.mu + (lr * game.lipschitz) ** 2)
        check_contraction(game, sol, rate, 3000)


# Single-call methods: linear convergence below their step bounds, OGDA (past
# extragradient) for η ≤ 1/(4L) (Gidel et al., ICLR 2019; Mokhtari, Ozdaglar &
# Pattathil, AISTATS 2020) and reflected forward–backward for η < (√2 − 1)/L
# (Malitsky, SIAM J. Optim. 2015). Neither is Fejér monotone step by step; the
# whole run must end within 1e-3 of the start's distance.
SINGLE_CALL = {
    "optimistic_gda": lambda L: 1 / (4 * L),
    "reflected_gda": lambda L: (np.sqrt(2) - 1) / L,
}


@pytest.mark.parametrize("name", sorted(SINGLE_CALL))
@given(game=games(), fraction=st.floats(0.5, 0.99))
@SETTINGS
def test_single_call_methods_converge_below_their_step_bound(name, game, fraction):
    with jax.enable_x64(True):
        lr = fraction * SINGLE_CALL[name](game.lipschitz)
        sol = solve(game, name, lr, 4000, 4000)
        assert int(sol.status) == mmx.Status.MAX_STEPS
        start, end = game.distances(sol.trace["iterates"])
        note(f"d={game.d} L={game.lipschitz:.3g} mu={game.mu:.3g} {start=} {end=}")
        assert end <= 1e-3 * start + 1e-12


# --- projections and divergence: one compiled run per rule ----------------------

ITERATIONS = 24


def clocked_field(z, A, b, threshold):
    """The game on ``(x, y)`` and a clock player ``t`` with ``V_t = −1``, NaN from
    ``t ≥ threshold`` on. Every rule moves ``t`` forward; iteration ``k``
    evaluates ``V`` at clock times in ``[t_k, t_k + lr]``."""
    x, y, t = z
    vx, vy = field((x, y), A, b)
    broken = t >= threshold
    nan = jnp.asarray(jnp.nan, vx.dtype)
    return jnp.where(broken, nan, vx), jnp.where(broken, nan, vy), -jnp.ones_like(t)


def takes_projection(name):
    return "projection" in inspect.signature(RULES[name].make).parameters


@functools.cache
def projected_runner(name, per_iteration):
    """``run(A, b, z0, lr, threshold, lower, upper, radius)``: ITERATIONS of the
    rule on the clocked game with x in a box and y in a Euclidean ball (the
    rule's own projection where it takes one, else ``mmx.projected`` around it),
    the committed iterate saved after each iteration; jitted, all traced."""

    def run(A, b, z0, lr, threshold, lower, upper, radius):
        projection = mmx.constraints.chain(
            mmx.constraints.box(lower, upper, player=0),
            mmx.constraints.l2_ball(radius, player=1),
        )
        if takes_projection(name):
            opt = RULES[name].build(lr, projection=projection)
        else:
            opt = mmx.projected(RULES[name].build(lr), projection)
        return mmx.solve(
            clocked_field,
            z0,
            opt,
            ITERATIONS * per_iteration,
            args=(A, b, threshold),
            save_every=per_iteration,
        )

    return jax.jit(run)


def run_projected(name, game, lr, threshold, lower, upper, radius):
    """The float32 run; returns it with the rule's evaluations per iteration."""
    x0, y0 = game.start(jnp.float32)
    z0 = (x0, y0, jnp.zeros([], jnp.float32))
    per_iteration = RULES[name].evaluations(z0)
    run = projected_runner(name, per_iteration)
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    args = (f32(game.A), f32(game.b), z0, f32(lr), f32(threshold))
    return run(*args, f32(lower), f32(upper), f32(radius)), per_iteration


bounds = {
    "lower": st.floats(-1.0, -0.05),
    "upper": st.floats(0.05, 1.0),
    "radius": st.floats(0.05, 1.0),
}


@every_rule
@given(game=games(), lr=st.floats(0.01, 1.0), **bounds)
@SETTINGS
def test_iterates_never_leave_the_projection_set(name, game, lr, lower, upper, radius):
    sol, _ = run_projected(name, game, lr, np.inf, lower, upper, radius)
    assert int(sol.status) != mmx.Status.DIVERGED
    xs, ys, _ = (np.asarray(v, np.float64) for v in sol.trace["iterates"])
    assert len(xs) == ITERATIONS + 1
    # Iterate 0 is the start, which may lie outside; every committed iterate after
    # it, and the final params, lie inside, to float32 rounding: an optax rule
    # returns the update P(z + u) − z, which the driver adds back to z.
    tol = 1e-6
    x_end, y_end, _ = (np.asarray(v, np.float64) for v in sol.params)
    for x in (*xs[1:], x_end):
        assert np.all((lower - tol <= x) & (x <= upper + tol)), x
    for y in (*ys[1:], y_end):
        assert np.linalg.norm(y) <= radius + tol, y


@every_rule
# Every clock ticks at least lr/2 (EG+'s update ratio) per iteration: T is reached.
@given(game=games(), lr=st.floats(0.01, 0.1), start=st.integers(0, ITERATIONS // 2 - 2))
@SETTINGS
def test_a_field_turning_nan_stops_at_the_last_finite_iterate(name, game, lr, start):
    """The field is NaN from clock time ``T = (start + 0.3) lr`` on (off the
    multiples of ``lr/2`` at which the rules' clocks tick; EG+ moves ``t`` by
    ``lr/2`` per iteration, the others by ``lr``). The run reports
    DIVERGED, its params and state are finite and its params are the clean run's
    iterate ``z_n`` after the ``n`` iterations it committed, where iteration
    ``n − 1`` evaluated only before ``T`` (``t_{n−1} < T``) and iteration ``n``
    reached it (``T ≤ t_n + lr``), ``t_k`` the clean run's clock. The sets are
    wide: the projections rarely act, but they run."""
    wide = {"lower": -100.0, "upper": 100.0, "radius": 100.0}
    clean, _ = run_projected(name, game, lr, np.inf, **wide)
    threshold = np.float32((start + 0.3) * lr)
    sol, per_iteration = run_projected(name, game, lr, threshold, **wide)

    assert int(clean.status) == mmx.Status.MAX_STEPS
    assert int(sol.status) == mmx.Status.DIVERGED
    n = int(sol.stats["num_iterations"])
    clock = np.asarray(clean.trace["iterates"][2], np.float64)
    assert n < ITERATIONS
    assert n == 0 or clock[n - 1] < threshold
    assert threshold <= clock[n] + lr * (1 + 1e-5)
    expected = [v[n] for v in clean.trace["iterates"]]
    for got, want in zip(sol.params, expected, strict=True):
        assert bool(jnp.all(jnp.isfinite(got)))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(sol.state))
    norms = np.asarray(sol.trace["field_norm"])
    assert np.all(np.isfinite(norms[: n * per_iteration]))
    assert np.isnan(norms[-1])


# --- dtypes -------------------------------------------------------------------

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float64": jnp.float64}


def shapes():
    return st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@st.composite
def params_trees(draw):
    """Two players, each a dict of one to three leaves of random shapes."""
    return tuple(
        {f"w{i}": draw(shapes()) for i in range(draw(st.integers(1, 3)))}
        for _ in range(2)
    )


@every_rule
@given(
    tree=params_trees(),
    dtype=st.sampled_from(sorted(DTYPES)),
    lr=st.floats(0.001, 0.1),
)
@SETTINGS
def test_every_floating_leaf_of_the_state_keeps_the_params_dtype(name, tree, dtype, lr):
    """Dtypes are static: ``jax.eval_shape`` of init, two transparent updates and
    one opaque iteration gives the dtypes a compiled run has, with no compile."""
    dt = DTYPES[dtype]
    opt = RULES[name].build(lr)

    def V(z):
        return jax.tree.map(lambda v: v - jnp.mean(v), z)

    def steps(z):
        states = [opt.init(z)]
        for _ in range(2):  # transparent mode: one evaluation per call
            updates, state = opt.update(V(z), states[-1], z)
            z = optax.apply_updates(z, updates)
            states.append(state)
        updates, state = opt.update(V(z), states[-1], z, field=lambda w, _: V(w))
        z = optax.apply_updates(z, updates)
        return z, mmx.iterate(z, state), [*states, state]

    with jax.enable_x64(dt == jnp.float64):
        z0 = jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s, dt),
            tree,
            is_leaf=lambda s: isinstance(s, tuple) and all(type(i) is int for i in s),
        )
        z, z_committed, states = jax.eval_shape(steps, z0)
    for params in (z, z_committed):
        assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {jnp.dtype(dt)}
    floating = {
        leaf.dtype
        for leaf in jax.tree.leaves(states)
        if jnp.issubdtype(leaf.dtype, jnp.floating)
    }
    assert floating <= {jnp.dtype(dt)}, floating
