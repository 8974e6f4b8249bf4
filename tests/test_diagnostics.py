"""Tests of mmx.diagnostics against closed forms, NumPy references and actual runs.

The games are written inline (no dependence on mmx.games):

* ``Φ = xy``: ``V(z) = Jz`` with ``J = [[0, 1], [−1, 0]]``, ``J² = −I``, so every
  linear rule is a fixed map whose spectral radius has a closed form;
* a strongly monotone quadratic ``Φ = ½x² + xy − ½y²`` (``J = [[1, 1], [−1, 1]]``);
* a random affine game with vector players and a known solution;
* Forsaken, ``Φ = x(y − 0.45) + φ(x) − φ(y)``, ``φ(u) = u²/4 − u⁴/2 + u⁶/6``, whose
  critical point, Lipschitz constant and weak-Minty ρ the tests compute with NumPy.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx
from minimaxjax import diagnostics as dg

BILINEAR_J = np.array([[0.0, 1.0], [-1.0, 0.0]])
ORIGIN = (0.0, 0.0)


def bilinear(x, y):
    return x * y


def quadratic(x, y):
    return 0.5 * x**2 + x * y - 0.5 * y**2


def pair(x, y):
    return (jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64))


def flat(z):
    return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(z)])


# ----------------------------------------------------------------------------------
# A random affine game with vector players: V(z) = J (z − z*).


def affine_game(seed=0, n=2, m=2, coupling=1.0, curvature=0.3):
    rng = np.random.default_rng(seed)
    A = coupling * rng.normal(size=(n, m))
    B, C = rng.normal(size=(n, n)), rng.normal(size=(m, m))
    P, Q = curvature * B @ B.T / n, curvature * C @ C.T / m
    x_star, y_star = rng.normal(size=n), rng.normal(size=m)

    def phi(x, y):
        dx, dy = x - x_star, y - y_star
        return 0.5 * dx @ P @ dx + dx @ A @ dy - 0.5 * dy @ Q @ dy

    J = np.block([[P, A], [-A.T, Q]])
    z_star = (jnp.asarray(x_star), jnp.asarray(y_star))
    return mmx.field(phi), J, z_star


# ----------------------------------------------------------------------------------
# Forsaken, with its constants computed here in NumPy.

OFFSET = 0.45


def potential(u):
    return u**2 / 4 - u**4 / 2 + u**6 / 6


def forsaken_phi(x, y):
    return x * (y - OFFSET) + potential(x) - potential(y)


def forsaken_numpy(x, y):
    """V and DV of Forsaken, by hand: V = (y − 0.45 + φ'(x), φ'(y) − x)."""
    d1 = lambda u: u / 2 - 2 * u**3 + u**5  # noqa: E731
    d2 = lambda u: 0.5 - 6 * u**2 + 5 * u**4  # noqa: E731
    value = np.stack([y - OFFSET + d1(x), d1(y) - x])
    jac = np.array([[d2(x), np.ones_like(x)], [-np.ones_like(x), d2(y)]])
    return value, jac


def forsaken_solution():
    z = np.array([0.078, 0.4119])
    for _ in range(20):  # Newton's method from the literature's rounded value
        value, jac = forsaken_numpy(*z)
        z = z - np.linalg.solve(jac, value)
    return z


def forsaken_lipschitz_numpy(n=301):
    g = np.linspace(-1.5, 1.5, n)
    X, Y = np.meshgrid(g, g)
    _, jac = forsaken_numpy(X, Y)
    return np.linalg.norm(
        np.moveaxis(jac, (0, 1), (-2, -1)), ord=2, axis=(-2, -1)
    ).max()


BOX = ((-1.5, 1.5), (-1.5, 1.5))


# ----------------------------------------------------------------------------------
# (a) Jacobians and linearised maps.


def test_jacobian_of_bilinear_and_of_vector_players(x64):
    V = mmx.field(bilinear)
    np.testing.assert_array_equal(dg.jacobian(V, pair(0.3, -2.0)), BILINEAR_J)
    V, J, z_star = affine_game(seed=1, n=3, m=2)
    np.testing.assert_allclose(dg.jacobian(V, z_star), J, atol=1e-12)
    np.testing.assert_allclose(dg.jacobian(V, (z_star[0] + 1.0, z_star[1])), J, 1e-12)


def test_jacobian_with_extra_args_and_dict_players(x64):
    V = mmx.game_field(
        {"a": lambda z, s: s * z["a"] * z["b"], "b": lambda z, s: -s * z["a"] * z["b"]}
    )
    z = {"a": jnp.array(0.0), "b": jnp.array(0.0)}
    np.testing.assert_array_equal(dg.jacobian(V, z, 2.0), 2.0 * BILINEAR_J)


def spectral_radius_on_bilinear(rule, alpha, inner_steps=None, update_ratio=0.5):
    """Closed forms on Φ = xy: J has eigenvalues ±i, each map acts on μ = i."""
    mu = 1j
    if rule == "gda":
        return math.sqrt(1 + alpha**2)
    if rule == "extragradient":
        return math.sqrt(1 - alpha**2 + alpha**4)
    if rule == "extragradient_plus":
        return abs(1 - update_ratio * alpha * mu + update_ratio * (alpha * mu) ** 2)
    if rule == "proximal_point":
        if inner_steps is None:
            return 1 / math.sqrt(1 + alpha**2)
        return abs(1 - (-alpha * mu) ** (inner_steps + 1)) / abs(1 + alpha * mu)
    if rule in ("optimistic_gda", "reflected_gda"):
        # z^{k+1} = (1 − 2αμ) z^k + αμ z^{k−1}: roots of λ² − (1 − 2αμ)λ − αμ.
        return max(abs(np.roots([1.0, -(1 - 2 * alpha * mu), -alpha * mu])))
    assert rule == "alternating_gda"
    return 1.0  # det = 1 and complex eigenvalues for α < 2


RULES = {
    "gda": (mmx.gda, {}),
    "extragradient": (mmx.extragradient, {}),
    "extragradient_plus": (lambda a: mmx.extragradient_plus(a, 0.5), {}),
    "proximal_point": (
        lambda a: mmx.proximal_point(a, inner_steps=6),
        {"inner_steps": 6},
    ),
    "optimistic_gda": (mmx.optimistic_gda, {}),
    "reflected_gda": (mmx.reflected_gda, {}),
    "alternating_gda": (mmx.alternating_gda, {"player_sizes": (1, 1)}),
}


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9, 1.3])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_closed_form_spectral_radius_on_bilinear(rule, alpha):
    _, kwargs = RULES[rule]
    if rule == "alternating_gda" and alpha >= 2:
        pytest.skip("alternating GDA is neutral only for α < 2")
    matrix = dg.linear_update_map(rule, BILINEAR_J, alpha, **kwargs)
    expected = spectral_radius_on_bilinear(rule, alpha, kwargs.get("inner_steps"))
    # At α = 1/2 the OGDA companion has a double eigenvalue, computed to only √ε.
    rel = 1e-7 if rule in ("optimistic_gda", "reflected_gda") else 1e-12
    assert dg.spectral_radius(matrix) == pytest.approx(expected, rel=rel)


@pytest.mark.parametrize("alpha", [0.2, 0.7])
def test_exact_proximal_point_limit(alpha):
    exact = dg.linear_update_map("proximal_point", BILINEAR_J, alpha, inner_steps=None)
    assert dg.spectral_radius(exact) == pytest.approx(1 / math.sqrt(1 + alpha**2))
    # K fixed-point steps approach the exact resolvent when αL < 1.
    many = dg.linear_update_map("proximal_point", BILINEAR_J, alpha, inner_steps=200)
    np.testing.assert_allclose(many, exact, atol=1e-12)


GAMES = {  # name -> (field, J = DV(z*), z*)
    "bilinear": lambda: (mmx.field(bilinear), BILINEAR_J, pair(*ORIGIN)),
    "quadratic": lambda: (
        mmx.field(quadratic),
        np.array([[1.0, 1.0], [-1.0, 1.0]]),
        pair(*ORIGIN),
    ),
    "affine": lambda: affine_game(seed=3),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_generic_update_map_equals_closed_form(x64, rule):
    # (On Φ = xy the spectral radii are checked against the closed forms below.)
    V, J, z_star = GAMES["affine"]()
    np.testing.assert_allclose(dg.jacobian(V, z_star), J, atol=1e-12)
    make, kwargs = RULES[rule]
    sizes = [int(np.size(p)) for p in z_star]
    kwargs = {**kwargs, "player_sizes": sizes}
    alpha = 0.3
    generic = dg.update_map(make(alpha), V, z_star)
    closed = dg.linear_update_map(rule, J, alpha, **kwargs)
    if rule in ("optimistic_gda", "reflected_gda"):
        # The code's state is (z, V(z^{k−1})) resp. (2z^k − z^{k−1}, z^k), the
        # closed form's (z^k, z^{k−1}): similar matrices, the same eigenvalues.
        assert generic.shape == closed.shape
        np.testing.assert_allclose(
            np.sort_complex(np.linalg.eigvals(generic)),
            np.sort_complex(np.linalg.eigvals(closed)),
            atol=1e-10,
        )
    else:
        np.testing.assert_allclose(generic, closed, atol=1e-12)


@pytest.mark.parametrize("rule", ["gda", "extragradient", "alternating_gda"])
def test_generic_update_map_with_per_player_step_sizes(x64, rule):
    V, J, z_star = affine_game(seed=4, n=2, m=3)
    rates = (0.1, 0.25)
    make = {
        "gda": mmx.gda,
        "extragradient": mmx.extragradient,
        "alternating_gda": mmx.alternating_gda,
    }[rule]
    generic = dg.update_map(make(rates), V, z_star)
    closed = dg.linear_update_map(rule, J, rates, player_sizes=(2, 3))
    np.testing.assert_allclose(generic, closed, atol=1e-12)


def test_update_map_reduction_and_warmup(x64):
    V, z_star, alpha = mmx.field(bilinear), pair(*ORIGIN), 0.4
    gda = dg.linear_update_map("gda", BILINEAR_J, alpha)
    # The anchor, which an opaque extragradient iteration carries unchanged, only
    # adds eigenvalues 1; reduce drops them.
    full = dg.update_map(mmx.extragradient(alpha), V, z_star, reduce=False)
    assert full.shape == (4, 4)
    np.testing.assert_allclose(full[2:, 2:], np.eye(2), atol=1e-15)
    np.testing.assert_allclose(full[:2, 2:], 0.0, atol=1e-15)
    reduced = dg.update_map(mmx.extragradient(alpha), V, z_star)
    assert reduced.shape == (2, 2)
    assert dg.spectral_radius(reduced) == pytest.approx(
        spectral_radius_on_bilinear("extragradient", alpha)
    )
    # Injected hyperparameters are carried unchanged: not part of the dynamics.
    injected = optax.inject_hyperparams(optax.sgd)(learning_rate=alpha)
    np.testing.assert_allclose(dg.update_map(injected, V, z_star), gda, atol=1e-15)
    assert dg.update_map(injected, V, z_star, reduce=False).shape == (3, 3)
    # optax's OGDA treats its first step as GDA (V(z^{−1}) := V(z^0)); the warm-up
    # iteration moves past it.
    first = dg.update_map(mmx.optimistic_gda(alpha), V, z_star, warmup=0)
    np.testing.assert_allclose(first, gda, atol=1e-15)
    later = dg.update_map(mmx.optimistic_gda(alpha), V, z_star)
    assert dg.spectral_radius(later) == pytest.approx(
        spectral_radius_on_bilinear("optimistic_gda", alpha)
    )


def test_spectral_radius():
    assert dg.spectral_radius(np.diag([0.5, -2.0])) == 2.0
    assert dg.spectral_radius([[0.0, 1.0], [-1.0, 0.0]]) == pytest.approx(1.0)
    assert math.isnan(dg.spectral_radius([[np.nan]]))
    with pytest.raises(ValueError, match="square"):
        dg.spectral_radius(np.ones((2, 3)))


# ----------------------------------------------------------------------------------
# Verdicts: closed forms on Φ = xy, then actual runs.


def test_verdicts_on_bilinear_match_the_closed_forms(x64):
    V, z_star = mmx.field(bilinear), pair(*ORIGIN)
    alphas = [0.45]  # OGDA converges on xy for α < 1/√3
    expected = {
        "gda": dg.Verdict.DIVERGES,
        "proximal_point": dg.Verdict.CONVERGES,
        "extragradient": dg.Verdict.CONVERGES,
        "optimistic_gda": dg.Verdict.CONVERGES,
        "reflected_gda": dg.Verdict.CONVERGES,
        "alternating_gda": dg.Verdict.NEUTRAL,
    }
    for rule, verdict in expected.items():
        make, kwargs = RULES[rule]
        result = dg.stability(make, V, z_star, alphas)
        assert result.verdicts == (verdict,) * len(alphas), rule
        closed = [
            spectral_radius_on_bilinear(rule, a, kwargs.get("inner_steps"))
            for a in alphas
        ]
        np.testing.assert_allclose(result.spectral_radius, closed, rtol=1e-12)
    # Extragradient changes verdict at α = 1, where ρ = √(1 − 1 + 1) = 1 exactly.
    result = dg.stability(mmx.extragradient, V, z_star, [0.99, 1.0, 1.01])
    assert [v.value for v in result.verdicts] == ["converges", "neutral", "diverges"]
    assert result.evaluations_per_iteration == 2
    np.testing.assert_allclose(
        result.rate_per_evaluation, np.sqrt(result.spectral_radius)
    )


def test_stability_of_one_optimizer_and_per_rule_evaluation_counts(x64):
    V, z_star = mmx.field(bilinear), pair(*ORIGIN)
    single = dg.stability(mmx.gda(0.5), V, z_star)
    assert single.learning_rates == (None,)
    assert single.verdicts == (dg.Verdict.DIVERGES,)
    assert single.spectral_radius[0] == pytest.approx(math.sqrt(1.25))
    counts = {
        mmx.extragradient: 2,
        mmx.alternating_gda: 2,
        (lambda a: mmx.proximal_point(a, inner_steps=5)): 5,
    }
    for make, count in counts.items():
        assert dg.stability(make, V, z_star, 0.1).evaluations_per_iteration == count


@pytest.mark.standard_promotion  # optax's Adam is not strict-promotion clean
def test_extra_adam_is_not_linearisable_at_a_critical_point(x64):
    # Adam divides by √v, and v vanishes with the field: the derivative is 0/0.
    result = dg.stability(mmx.extra_adam, mmx.field(bilinear), pair(*ORIGIN), 0.1)
    assert result.verdicts == (dg.Verdict.UNDEFINED,)


def test_float32_verdicts_use_a_float32_tolerance():
    result = dg.stability(
        mmx.alternating_gda, mmx.field(bilinear), (jnp.zeros(()), jnp.zeros(())), 0.3
    )
    assert result.verdicts == (dg.Verdict.NEUTRAL,)


RUNS = [
    # (game, rule, α): the verdicts cover converges, diverges and neutral.
    ("bilinear", "gda", 0.3),
    ("bilinear", "extragradient", 0.5),
    ("bilinear", "optimistic_gda", 0.3),
    ("bilinear", "proximal_point", 0.5),
    ("bilinear", "alternating_gda", 0.5),
    ("quadratic", "gda", 1.5),
    ("quadratic", "extragradient_plus", 0.5),
    ("affine", "gda", 0.6),
    ("affine", "reflected_gda", 0.2),
    ("affine", "alternating_gda", 0.3),
]


@pytest.mark.parametrize(("game", "rule", "alpha"), RUNS)
def test_verdicts_agree_with_solve_runs(x64, game, rule, alpha):
    V, _, z_star = GAMES[game]()
    make, _ = RULES[rule]
    result = dg.stability(make, V, z_star, alpha)
    rho, verdict = result.spectral_radius[0], result.verdicts[0]
    iterations = 200
    z0 = jax.tree.map(lambda a: a + 0.5, z_star)
    sol = mmx.solve(V, z0, make(alpha), iterations * result.evaluations_per_iteration)
    assert int(sol.stats["num_iterations"]) == iterations
    start = np.linalg.norm(flat(z0) - flat(z_star))
    end = np.linalg.norm(flat(sol.params) - flat(z_star))
    if verdict is dg.Verdict.NEUTRAL:
        assert 0.2 < end / start < 5
        return
    assert (end < start) == (verdict is dg.Verdict.CONVERGES)
    # ‖z^k − z*‖ ≈ C ρ^k: the measured rate per iteration is ρ.
    measured = math.log(end / start) / iterations
    assert measured == pytest.approx(math.log(rho), abs=0.02)


def test_run_cases_cover_every_verdict(x64):
    radii = set()
    for game, rule, alpha in RUNS:
        _, J, z_star = GAMES[game]()
        sizes = [int(np.size(p)) for p in z_star]
        kwargs = {**RULES[rule][1], "player_sizes": sizes}
        matrix = dg.linear_update_map(rule, J, alpha, **kwargs)
        rho = dg.spectral_radius(matrix)
        radii.add("neutral" if abs(rho - 1) < 1e-9 else "in" if rho < 1 else "out")
    assert radii == {"in", "out", "neutral"}


# ----------------------------------------------------------------------------------
# (b) Trajectories and limit cycles.


def test_trajectory_matches_solve_and_reports_committed_iterates(x64):
    V, z0 = mmx.field(bilinear), pair(1.0, 0.5)
    for make, evaluations in ((mmx.extragradient, 2), (mmx.reflected_gda, 1)):
        run = dg.trajectory(V, z0, make(0.3), 25)
        assert run.iterates[0].shape == run.field_norm.shape == (26,)
        first = jax.tree.map(lambda a: a[0], run.iterates)
        np.testing.assert_array_equal(flat(first), flat(z0))
        sol = mmx.solve(V, z0, make(0.3), 25 * evaluations)
        last = jax.tree.map(lambda a: a[-1], run.iterates)
        np.testing.assert_allclose(flat(last), flat(sol.params), atol=1e-12)
        norms = jax.vmap(lambda z: jnp.sqrt(z[0] ** 2 + z[1] ** 2))(run.iterates)
        np.testing.assert_allclose(run.field_norm, norms, atol=1e-12)  # ‖V‖ = ‖z‖


def test_trajectory_with_a_stochastic_field(x64):
    V = mmx.field(bilinear)

    def noisy(z, key):
        # A perturbation that depends on the key (cheaper to compile than a draw).
        noise = 0.01 * jnp.sin(jax.random.key_data(key).astype(jnp.float64))
        return jax.tree.map(lambda v, e: v + e, V(z), (noise[0], noise[1]))

    key, rule = jax.random.PRNGKey(3), mmx.extragradient(0.3)
    run = dg.trajectory(noisy, pair(1.0, 0.0), rule, 50, key=key)
    again = dg.trajectory(noisy, pair(1.0, 0.0), rule, 50, key=key)
    other = dg.trajectory(noisy, pair(1.0, 0.0), rule, 50, key=jax.random.PRNGKey(4))
    np.testing.assert_array_equal(run.iterates[0], again.iterates[0])
    assert not np.array_equal(run.iterates[0], other.iterates[0])
    assert float(run.field_norm[-1]) < 0.2


def test_detect_cycle_on_bilinear(x64):
    V, z0 = mmx.field(bilinear), pair(1.0, 0.0)
    diverging = dg.trajectory(V, z0, mmx.gda(0.1), 300)
    report = dg.detect_cycle(diverging)
    assert report.outcome is dg.Outcome.DIVERGED
    assert report.contains_critical_point is False
    blown_up = mmx.solve(V, z0, mmx.gda(3.0), 1000)  # overflows: status diverged
    assert dg.detect_cycle(blown_up).outcome is dg.Outcome.DIVERGED

    converging = dg.trajectory(V, z0, mmx.extragradient(0.3), 300)
    report = dg.detect_cycle(converging)
    assert report.outcome is dg.Outcome.CONVERGED
    assert report.contains_critical_point is True
    assert dg.detect_cycle(mmx.solve(V, z0, mmx.extragradient(0.3), 600)).outcome is (
        dg.Outcome.CONVERGED
    )
    assert dg.detect_cycle(converging.iterates).outcome is dg.Outcome.CONVERGED

    # Alternating GDA rotates by θ = arccos(1 − α²/2) per iteration on an ellipse
    # around the saddle: a (neutral) cycle of period 2π/θ without a critical point.
    alpha = 0.3
    cycling = dg.trajectory(V, z0, mmx.alternating_gda(alpha), 600)
    report = dg.detect_cycle(cycling)
    assert report.is_cycle
    assert report.period == pytest.approx(
        2 * math.pi / math.acos(1 - alpha**2 / 2), abs=0.05
    )
    assert report.contains_critical_point is False
    assert report.is_spurious
    # ‖z‖ on the orbit stays within the ellipse's axes, around 1.
    assert 0.8 < report.field_norm_min < report.field_norm_max < 1.25


def extra_adam_on_linear_field(M, alpha, z0, num_iterations, b1=0.9, b2=0.999):
    """A float64 reference of ExtraAdam on V(z) = Mz (2 × 2), in plain Python.

    Adam (Kingma & Ba 2015) with bias corrections and ε = 1e-8, its moments and
    count advancing at both evaluations; both phases step from z^k (Gidel et al.
    2019).
    """
    z, m, v, count = list(z0), [0.0, 0.0], [0.0, 0.0], 0

    def adam_step(w):
        nonlocal count
        count += 1
        step = []
        for i in range(2):
            g = M[i][0] * w[0] + M[i][1] * w[1]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            m_hat, v_hat = m[i] / (1 - b1**count), v[i] / (1 - b2**count)
            step.append(alpha * m_hat / (math.sqrt(v_hat) + 1e-8))
        return step

    path = [tuple(z)]
    for _ in range(num_iterations):
        s = adam_step(z)
        s = adam_step((z[0] - s[0], z[1] - s[1]))
        z = [z[0] - s[0], z[1] - s[1]]
        path.append(tuple(z))
    return np.array(path)


@pytest.mark.standard_promotion  # optax's Adam is not strict-promotion clean
def test_extra_adam_on_bilinear_is_a_bounded_orbit_not_a_divergence(x64):
    game, alpha = mmx.games.bilinear(), 0.02
    reference = extra_adam_on_linear_field(BILINEAR_J, alpha, (1.0, 1.0), 10_000)
    radius = np.hypot(reference[:, 0], reference[:, 1])
    # The reference grows over the first thousand iterations, ever more slowly ...
    assert radius[1000] > 1.1 * radius[500]
    assert radius[1000] / radius[750] < radius[750] / radius[500]
    # ... and then stays on an orbit around z* = 0, of radius about 185 α.
    assert radius[10_000] < 1.02 * radius[5000]
    assert 180 * alpha < radius[10_000] < 190 * alpha
    turn = np.unwrap(np.arctan2(reference[:, 1], reference[:, 0]))
    period = 2 * np.pi * 5000 / abs(turn[-1] - turn[-5001])

    run = dg.trajectory(game.field, game.init, mmx.extra_adam(alpha), 10_000)
    np.testing.assert_allclose(flat(run.iterates).reshape(2, -1).T, reference, 1e-9)

    # 2000 field evaluations (the benchmark's budget): still growing, never called
    # diverged, also with the benchmark's 10 % trend threshold.
    short = mmx.solve(game.field, game.init, mmx.extra_adam(alpha), 2000)
    assert dg.detect_cycle(short).outcome is dg.Outcome.UNKNOWN  # < 1.5x growth
    assert dg.detect_cycle(short, growth=1.1).outcome is dg.Outcome.SATURATING
    first = dg.Trajectory(
        jax.tree.map(lambda a: a[:1001], run.iterates), run.field_norm[:1001]
    )
    assert dg.detect_cycle(first, growth=1.1).outcome is dg.Outcome.SATURATING
    # 5000 iterations: the orbit is periodic but its size still creeps up.
    middle = dg.Trajectory(
        jax.tree.map(lambda a: a[:5001], run.iterates), run.field_norm[:5001]
    )
    assert dg.detect_cycle(middle).outcome is dg.Outcome.SATURATING

    # 20 000 evaluations: on the orbit, a cycle of the reference's period without
    # a critical point.
    report = dg.detect_cycle(run)
    assert report.outcome is dg.Outcome.LIMIT_CYCLE and report.is_spurious
    assert report.period == pytest.approx(period, rel=0.01)
    long = mmx.solve(game.field, game.init, mmx.extra_adam(alpha), 20_000)
    from_trace = dg.detect_cycle(long, growth=1.1)
    assert from_trace.outcome is dg.Outcome.LIMIT_CYCLE
    # Rotating z by 90° maps V(z) = Jz and Adam's per-coordinate steps to
    # themselves, so the orbit is symmetric under it: ‖z‖ repeats every quarter.
    assert from_trace.period == pytest.approx(period / 4, rel=0.02)
    assert from_trace.field_norm_max == pytest.approx(radius[5000:].max(), rel=1e-6)


@pytest.mark.standard_promotion  # optax's Adam is not strict-promotion clean
def test_extra_adam_escaping_a_repelling_field_is_called_diverged(x64):
    # Pethick et al.'s lower-bound game V(z) = [[b, a], [−a, b]] z with b < 0
    # pushes z away from 0; Adam's steps are at most about α long, and ExtraAdam
    # escapes at a near-constant speed (like k, not exponentially): a divergence.
    a, b = 2 * math.sqrt(2), -1.0
    alpha = 0.1 / math.hypot(a, b)  # 0.1/L
    V = mmx.field(lambda x, y: a * x * y + b / 2 * x**2 - b / 2 * y**2)
    reference = extra_adam_on_linear_field([[b, a], [-a, b]], alpha, (1.0, 1.0), 5000)
    radius = np.hypot(reference[:, 0], reference[:, 1])
    speed_early = (radius[2000] - radius[1000]) / 1000
    speed_late = (radius[5000] - radius[2000]) / 3000
    assert speed_late > 0.8 * speed_early > 0.2 * alpha
    sol = mmx.solve(V, pair(1.0, 1.0), mmx.extra_adam(alpha), 2000)
    np.testing.assert_allclose(flat(sol.params), reference[1000], rtol=1e-9)
    # (It grows by less than 1.5x over the tail: a trend only at the benchmark's
    # 10 % threshold, which called it diverged before saturating existed too.)
    assert dg.detect_cycle(sol, growth=1.1).outcome is dg.Outcome.DIVERGED


@pytest.mark.parametrize("alpha", [0.05, 0.3])
def test_gda_on_bilinear_is_called_diverged(x64, alpha):
    # On Φ = xy the radius grows by exactly √(1 + α²) per iteration (at α = 0.3 it
    # overflows before 20 000 iterations: solve then reports a divergence).
    V, z0 = mmx.field(bilinear), pair(1.0, 1.0)
    run = dg.trajectory(V, z0, mmx.gda(alpha), 2000)
    expected = math.sqrt(2) * (1 + alpha**2) ** (np.arange(2001) / 2)
    np.testing.assert_allclose(run.field_norm, expected, rtol=1e-9)
    assert dg.detect_cycle(run).outcome is dg.Outcome.DIVERGED
    for evaluations in (2000, 20_000):
        sol = mmx.solve(V, z0, mmx.gda(alpha), evaluations)
        for growth in (1.1, 1.5):
            assert dg.detect_cycle(sol, growth=growth).outcome is dg.Outcome.DIVERGED


def test_forsaken_extragradient_with_step_one_over_l_is_a_spurious_limit_cycle(x64):
    z_star = forsaken_solution()
    np.testing.assert_allclose(z_star, [0.078027, 0.411934], atol=1e-6)
    L = forsaken_lipschitz_numpy()
    V, z0 = mmx.field(forsaken_phi), pair(1.0, -0.8)

    run = dg.trajectory(V, z0, mmx.extragradient(1 / L), 3000)
    report = dg.detect_cycle(run)
    assert report.outcome is dg.Outcome.LIMIT_CYCLE
    assert report.contains_critical_point is False and report.is_spurious
    # ‖V‖ oscillates between about 0.5 and 2.2 on the cycle EG with step 1/L is
    # drawn to from (1, −0.8) (Pethick et al. 2022, ICLR, Forsaken experiment).
    assert 0.45 < report.field_norm_min < 0.65
    assert 2.0 < report.field_norm_max < 2.3
    # The period is a return time of the iterates, checked here on the raw run.
    path = np.stack([np.asarray(a) for a in run.iterates], axis=1)[1500:]

    def mean_return(lag):
        return np.mean(np.linalg.norm(path[lag:] - path[:-lag], axis=1))

    assert mean_return(round(report.period)) < 0.05 * report.amplitude
    assert mean_return(round(report.period / 2)) > report.amplitude
    # The same cycle from mmx.solve's ‖V‖ trace alone, and from bare iterates.
    sol = mmx.solve(V, z0, mmx.extragradient(1 / L), 6000)
    from_trace = dg.detect_cycle(sol)
    assert from_trace.is_spurious
    assert from_trace.period == pytest.approx(report.period, abs=0.1)
    bare = dg.detect_cycle(run.iterates, field=V)
    assert bare.is_spurious and bare.field_norm_min == pytest.approx(
        report.field_norm_min
    )

    # Locally, z* is stable for EG at this step: a run started next to it
    # converges, as the verdict says. The cycle is a global, not a local, failure.
    local = dg.stability(mmx.extragradient, V, pair(*z_star), 1 / L)
    assert local.verdicts == (dg.Verdict.CONVERGES,)
    near = dg.trajectory(V, pair(*(z_star + 0.02)), mmx.extragradient(1 / L), 3000)
    assert dg.detect_cycle(near).outcome is dg.Outcome.CONVERGED


def test_detect_cycle_on_synthetic_signals():
    rng = np.random.default_rng(0)
    t = np.arange(3000)
    period = 37.3
    circle = np.stack(
        [np.cos(2 * np.pi * t / period), np.sin(2 * np.pi * t / period)], 1
    )
    noisy = circle + 0.05 * rng.normal(size=circle.shape)
    report = dg.detect_cycle(noisy)
    assert report.is_cycle and report.period == pytest.approx(period, abs=0.2)
    assert report.contains_critical_point is None
    assert report.amplitude == pytest.approx(1.0, abs=0.2)
    flip = np.where(t % 2 == 0, 1.0, -1.0)[:, None]
    assert dg.detect_cycle(flip).period == pytest.approx(2.0)

    overflowed = circle.copy()
    overflowed[-1] = np.inf
    assert dg.detect_cycle(overflowed).outcome is dg.Outcome.DIVERGED
    spiral_out = circle * (1.002**t)[:, None]
    assert dg.detect_cycle(spiral_out).outcome is dg.Outcome.DIVERGED
    spiral_in = circle * (0.998**t)[:, None]
    assert dg.detect_cycle(spiral_in).outcome is dg.Outcome.CONVERGED
    # Growth slower than √k and ever slower per iteration is not a divergence
    # seen: saturating, with or without a period. Exponential growth is, and so
    # is growth at a constant speed.
    half = len(t) // 2
    slow = 1.0002**t
    for radius in (slow, 1 + t / 100):
        assert dg.detect_cycle(circle * radius[:, None]).outcome is (
            dg.Outcome.DIVERGED
        )
        assert dg.detect_cycle(radius, growth=1.1).outcome is dg.Outcome.DIVERGED
    for radius in ((1 + t) ** 0.3, 3 - 2 * np.exp(-t / 2000)):
        assert radius[-1] / radius[half] > 1.2  # a clear trend over the tail
        assert dg.detect_cycle(circle * radius[:, None]).outcome is (
            dg.Outcome.SATURATING
        )
        assert dg.detect_cycle(radius, growth=1.1).outcome is dg.Outcome.SATURATING
    # A run that cannot leave a box grows, at worst, towards an orbit.
    report = dg.detect_cycle(spiral_out, bounded=True)
    assert report.outcome is dg.Outcome.SATURATING
    assert dg.detect_cycle(overflowed, bounded=True).outcome is dg.Outcome.DIVERGED

    chaos = np.empty(3000)
    chaos[0] = 0.3
    for k in range(1, 3000):
        chaos[k] = 4 * chaos[k - 1] * (1 - chaos[k - 1])
    report = dg.detect_cycle(chaos[:, None])
    assert report.outcome is dg.Outcome.UNKNOWN and math.isnan(report.period)

    # A 1-D array is a ‖V‖ trace; the NaN padding of mmx.solve is ignored.
    trace = np.concatenate([2 + np.cos(2 * np.pi * t / period), [np.nan] * 3])
    assert dg.detect_cycle(trace).period == pytest.approx(period, abs=0.2)


def test_detect_cycle_errors():
    with pytest.raises(ValueError, match="tail"):
        dg.detect_cycle(np.ones((100, 2)), tail=0.0)
    with pytest.raises(ValueError, match="at least 8"):
        dg.detect_cycle(np.ones((5, 2)))
    with pytest.raises(ValueError, match="leading axis"):
        dg.detect_cycle((np.ones((10,)), np.ones((11,))))
    with pytest.raises(TypeError, match="field must be callable"):
        dg.detect_cycle(np.ones((100, 2)), field=1.0)


# ----------------------------------------------------------------------------------
# (c) Lipschitz constants and weak-Minty ρ.


def test_lipschitz_of_a_linear_field_is_its_spectral_norm(x64):
    V, J, _ = affine_game(seed=5, n=3, m=2)
    box = ((-jnp.ones(3), jnp.ones(3)), (-jnp.ones(2), jnp.ones(2)))
    # Power iteration here (the dense path is checked on Forsaken below).
    power = dg.lipschitz_estimate(V, box, num_samples=20, dense=False).value
    assert power == pytest.approx(np.linalg.norm(J, ord=2), rel=1e-4)


def test_forsaken_lipschitz_on_the_box(x64):
    V = mmx.field(forsaken_phi)
    estimate = dg.lipschitz_estimate(V, BOX, num_samples=1000, grid_size=301)
    # DV = [[φ''(x), 1], [−1, φ''(y)]], φ''(u) = ½ − 6u² + 5u⁴ ranges over
    # [−1.3, 12.3125] on [−1.5, 1.5] (minimum at u² = 3/5, maximum at |u| = 1.5),
    # and ‖DV‖ is convex in (φ''(x), φ''(y)): the sup is at a corner.
    exact = max(
        np.linalg.norm([[a, 1.0], [-1.0, b]], ord=2)
        for a in (-1.3, 12.3125)
        for b in (-1.3, 12.3125)
    )
    assert forsaken_lipschitz_numpy() <= estimate.value <= exact + 1e-12
    assert estimate.value == pytest.approx(exact, rel=1e-5)
    # L ≈ 12.4 on the box, as in Pethick et al. 2022 (ICLR), Forsaken experiment.
    assert estimate.value == pytest.approx(12.4, abs=0.01)
    assert abs(float(estimate.point[0])) == 1.5  # the extreme curvature is at |x| = 1.5


@pytest.mark.parametrize(("a", "b"), [(2 * math.sqrt(2), -1.0), (1.0, 1.0), (1.0, 0.0)])
def test_weak_minty_rho_of_linear_fields(x64, a, b):
    # V(z) = [[b, a], [−a, b]] z: ⟨Vz, z⟩ = b‖z‖² and ‖Vz‖² = (a² + b²)‖z‖², so the
    # ratio is b/(a² + b²) everywhere.
    V = mmx.field(lambda x, y: a * x * y + b / 2 * x**2 - b / 2 * y**2)
    rho = dg.weak_minty_rho(
        V, pair(*ORIGIN), ((-1.0, 1.0), (-2.0, 2.0)), num_samples=1000
    )
    assert rho.value == pytest.approx(b / (a**2 + b**2), abs=1e-12)


def forsaken_rho_numpy(z_star, n=1201):
    g = np.linspace(-1.5, 1.5, n)
    X, Y = np.meshgrid(g, g)
    value, _ = forsaken_numpy(X, Y)
    inner = value[0] * (X - z_star[0]) + value[1] * (Y - z_star[1])
    return np.min(inner / (value[0] ** 2 + value[1] ** 2))


def test_weak_minty_rho_on_forsaken(x64):
    z_star = forsaken_solution()
    V = mmx.field(forsaken_phi)
    rho = dg.weak_minty_rho(V, pair(*z_star), BOX, num_samples=1000, grid_size=301)
    reference = forsaken_rho_numpy(z_star)
    assert rho.value == pytest.approx(reference, abs=1e-2)
    assert rho.value < 0  # V points away from z* somewhere: not monotone
    # Attained inside the box, near (−0.26, 0.79), not on its boundary.
    np.testing.assert_allclose(flat(rho.point), [-0.26, 0.79], atol=0.03)


def test_weak_minty_rho_with_a_sampler(x64):
    V = mmx.field(lambda x, y: x * y + 0.5 * x**2 - 0.5 * y**2)  # ρ = 1/2

    def sampler(key, n):
        seed = np.asarray(jax.random.key_data(key)).ravel().tolist()
        points = np.random.default_rng(seed).normal(size=(n, 2))
        return (jnp.asarray(points[:, 0]), jnp.asarray(points[:, 1]))

    rho = dg.weak_minty_rho(V, pair(*ORIGIN), sampler, num_samples=100)
    assert rho.value == pytest.approx(0.5)
    assert rho.point[0].shape == ()


def test_sampling_errors():
    V = mmx.field(bilinear)
    z = (jnp.zeros(()), jnp.zeros(()))
    with pytest.raises(ValueError, match="lo <= hi"):
        dg.lipschitz_estimate(V, ((1.0, -1.0), (-1.0, 1.0)))
    with pytest.raises(ValueError, match="one interval"):
        dg.lipschitz_estimate(V, ((0.0, 1.0, 2.0), (-1.0, 1.0)))
    with pytest.raises(TypeError, match="domain must be a box"):
        dg.lipschitz_estimate(V, 1.5)
    with pytest.raises(ValueError, match="grid_size"):
        dg.lipschitz_estimate(V, lambda key, n: z, grid_size=3)
    with pytest.raises(ValueError, match="solution has 3 entries"):
        dg.weak_minty_rho(V, (jnp.zeros(2), jnp.zeros(())), ((-1.0, 1.0), (-1.0, 1.0)))


def test_argument_errors():
    V, z = mmx.field(bilinear), (jnp.zeros(()), jnp.zeros(()))
    with pytest.raises(TypeError, match="factory"):
        dg.stability(mmx.gda(0.1), V, z, [0.1])
    with pytest.raises(TypeError, match="without learning_rates"):
        dg.stability(mmx.gda, V, z)
    with pytest.raises(TypeError, match="optimizer must be an optax"):
        dg.update_map(lambda g: g, V, z)
    with pytest.raises(ValueError, match="warmup"):
        dg.update_map(mmx.gda(0.1), V, z, warmup=-1)
    with pytest.raises(ValueError, match="structure of z"):
        dg.jacobian(lambda w: w[0], z)
    with pytest.raises(ValueError, match=r"shaped like z; at \[1\].*shape \(3,\)"):
        dg.jacobian(lambda w: (w[0], jnp.zeros(3)), z)
    with pytest.raises(ValueError, match="rule must be one of"):
        dg.linear_update_map("sgd", BILINEAR_J, 0.1)
    with pytest.raises(ValueError, match="player_sizes"):
        dg.linear_update_map("alternating_gda", BILINEAR_J, 0.1)
    with pytest.raises(ValueError, match="per-player"):
        dg.linear_update_map("gda", BILINEAR_J, (0.1, 0.2))
    with pytest.raises(ValueError, match="num_iterations"):
        dg.trajectory(V, z, mmx.gda(0.1), 0)
