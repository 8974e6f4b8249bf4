"""The static check that a non-finite field value must reach the end of a loop.

``solve`` skips reading its trace when ``_propagation.persists`` says yes, and
adds up the values that ``_propagation.analyse`` finds lost but unread instead of
reading it, so a wrong yes (a mark left out of ``lost`` or ``read`` wrongly)
would let a divergence pass as a finite run. The verdicts below follow from IEEE
arithmetic (inf·0 = NaN, x/inf = 0, max(−inf, 0) = 0, …); the property tests
run random programs on NaN and ±inf inputs and check every yes.
"""

import importlib

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

import minimaxjax as mmx
from minimaxjax._propagation import Verdict, analyse, mark, persists

solve_module = importlib.import_module("minimaxjax.solve")

Z = jnp.ones(3)


@jax.custom_jvp
def _cube(x):
    return x * x * x


_cube.defjvp(lambda p, t: (_cube(p[0]), 3 * p[0] ** 2 * t[0]))


@jax.custom_vjp
def _double(x):
    return 2 * x


_double.defvjp(lambda x: (_double(x), None), lambda _, g: (2 * g,))


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        # IEEE arithmetic between the field value and the iterate.
        (lambda z: z - 0.1 * mark(z**3 - z), True),
        (lambda z: z - 0.1 * mark(jnp.sqrt(z)), True),
        (lambda z: z - mark(z) / 3.0, True),  # a numerator
        (lambda z: z - 1.0 / (1.0 + mark(z) ** 2), False),  # 1/inf = 0
        (lambda z: z - 0.1 * mark(jnp.ones((3, 3)) @ z), True),
        (lambda z: z - jnp.sum(mark(z)) * jnp.ones(3), True),
        (lambda z: z - jax.jit(lambda w: 0.5 * mark(w))(z), True),
        (lambda z: z - jax.checkpoint(lambda w: 0.5 * mark(w))(z), True),
        (lambda z: z - _cube(mark(z)), True),
        (lambda z: z - _double(mark(z)), True),
        # Operations that can turn inf or NaN into a finite number.
        (lambda z: jnp.clip(z - 0.1 * mark(z), -1.0, 1.0), False),
        (lambda z: z - jnp.where(z > 0, mark(z), 0.0), False),
        (lambda z: z - jnp.exp(mark(z)), False),  # exp(−inf) = 0
        (lambda z: z - jnp.tanh(mark(z)), False),
        (lambda z: z - jax.nn.relu(mark(z)), False),  # max(−inf, 0) = 0
        (lambda z: z - jax.lax.integer_pow(mark(z), 0), False),
        (lambda z: z.at[0].add(-mark(z)[1]), False),  # a slice drops entries
        (lambda z: z - mark(z)[:], True),  # a whole-array slice does not
        # jnp.stack is its own primitive: every operand lands in the result.
        (lambda z: z - jnp.sum(jnp.stack([0.5 * z, mark(z)]), axis=0), True),
        (lambda z: z - jnp.stack([0.5 * z, mark(z)])[0], False),
        (lambda z: z - jnp.sign(mark(z)), False),
        # Each result of a barrier is one operand, not all of them.
        (lambda z: z - jax.lax.optimization_barrier((mark(z), z))[1], False),
        # A marked value inside a loop the analysis does not enter.
        (lambda z: jax.lax.fori_loop(0, 2, lambda i, w: w - mark(w), z), False),
        # No marked value: nothing to prove.
        (lambda z: 0.5 * z, False),
    ],
)
def test_verdicts_follow_ieee_arithmetic(step, expected):
    assert persists(step, Z) is expected


def test_a_value_stored_and_read_back_persists():
    # Optimistic GDA: the state keeps V(z^k) for the next step, which reads it.
    def step(carry):
        z, previous = carry
        g = mark(z**3)
        return z - 0.1 * (2 * g - previous), g

    assert persists(step, (Z, Z))


def test_a_value_only_in_a_forgotten_leaf_does_not_persist():
    # The marked value lands in a state leaf that the next step overwrites
    # without reading: nothing carries it to the end.
    def step(carry):
        z, _overwritten = carry
        return 0.5 * z, mark(z**3)

    assert not persists(step, (Z, Z))
    # A leaf that is read again is enough.
    assert persists(lambda c: (0.5 * c[0] + c[1], mark(c[0] ** 3)), (Z, Z))


def test_a_leaf_kept_only_by_a_forgotten_leaf_does_not_persist():
    # The value goes to a, a goes to b, b is never read: the fixed point drops b,
    # then a.
    def chain(carry):
        z, a, _never_read = carry
        return 0.5 * z, mark(z), a

    # Through a cycle (a to b and b back to a, inf·0 = NaN) it lasts for ever.
    def cycle(carry):
        z, a, b = carry
        return 0.5 * z, mark(z) + 0 * b, a

    assert not persists(chain, (Z, Z, Z))
    assert persists(cycle, (Z, Z, Z))


def test_select_with_a_scalar_predicate_keeps_what_both_cases_carry():
    def both(z):
        g = mark(z)
        return jax.lax.select(z[0] > 0, z - g, z + 2 * g)

    def one(z):
        g = mark(z)
        return jax.lax.select(z[0] > 0, z - g, z)

    def elementwise(z):
        g = mark(z)
        return jax.lax.select(z > 0, z - g, z + 2 * g)

    assert persists(both, Z)
    assert not persists(one, Z)
    assert not persists(elementwise, Z)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (lambda z: z - 0.1 * mark(z**3), Verdict(1, (), (0,))),
        # Half of a value ignored (alternating GDA): lost, and read by nothing.
        (lambda z: z - mark((z, z**2))[0], Verdict(2, (1,), (0,))),
        # Read, but a clip can hide it.
        (lambda z: jnp.clip(z - mark(z), -1.0, 1.0), Verdict(1, (0,), (0,))),
        # Read through a predicate, an integer or a branch only.
        (lambda z: jnp.where(mark(z) > 0, z, -z), Verdict(1, (0,), (0,))),
        (lambda z: z + jnp.argmax(mark(z)).astype(z.dtype), Verdict(1, (0,), (0,))),
        (
            lambda z: jax.lax.cond(z[0] > 0, jnp.sin, jnp.cos, mark(z)),
            Verdict(1, (0,), (0,)),
        ),
        # Calls are entered: the half a jitted function ignores is not read.
        (lambda z: z - jax.jit(lambda w: w[0])(mark((z, z))), Verdict(2, (1,), (0,))),
        (lambda z: 0.5 * z, Verdict(0, (), ())),
        # A marked value inside a loop the analysis does not enter.
        (lambda z: jax.lax.fori_loop(0, 2, lambda i, w: w - mark(w), z), None),
    ],
)
def test_analyse_finds_what_is_lost_and_what_is_read(step, expected):
    assert analyse(step, Z) == expected


def test_a_value_stored_in_a_forgotten_leaf_is_lost_but_read():
    # A carry leaf depends on it, so it counts as read (conservatively: the next
    # step overwrites that leaf without looking).
    def step(carry):
        z, _overwritten = carry
        return 0.5 * z, mark(z**3)

    assert analyse(step, (Z, Z)) == Verdict(1, (0,), (0,))


def test_closed_over_tracers_and_extra_arguments():
    # Under jit and vmap, step sizes close over tracers; keys are extra arguments.
    def verdict(lr):
        def step(z, key):
            noise = jax.random.normal(key, z.shape)
            return z - lr * mark(z + noise)

        return persists(step, Z, jax.random.key(0))

    assert verdict(0.1)
    seen = []
    jax.jit(lambda lr: seen.append(verdict(lr)) or lr)(0.1)
    jax.vmap(lambda lr: seen.append(verdict(lr)) or lr)(jnp.ones(2))
    assert seen == [True, True]


# Random straight-line programs: each operation reads earlier values (the marked
# input, finite constants with zeros, results so far); the program's last value is
# the new carry. Every yes must survive NaN and ±inf at every position.
_UNARY = {
    "neg": jnp.negative,
    "abs": jnp.abs,
    "sqrt": jnp.sqrt,
    "square": jnp.square,
    "cube": lambda a: a**3,
    "pow0": lambda a: jax.lax.integer_pow(a, 0),
    "exp": jnp.exp,
    "tanh": jnp.tanh,
    "sum": lambda a: jnp.sum(a) * jnp.ones(3),
    "max": lambda a: jnp.max(a) * jnp.ones(3),
    "first": lambda a: a[0] * jnp.ones(3),
    "roll": lambda a: jnp.concatenate([a[1:], a[:1]]),
    "reverse": lambda a: a[::-1],
    "clip": lambda a: jnp.clip(a, -2.0, 2.0),
    "relu": jax.nn.relu,
}
_BINARY = {
    "add": jnp.add,
    "sub": jnp.subtract,
    "mul": jnp.multiply,
    "div": jnp.divide,
    "maximum": jnp.maximum,
    "where": lambda a, b: jnp.where(a > 0, a, b),
    "select": lambda a, b: jax.lax.select(a[0] > 0, a, b),
    "matvec": lambda a, b: jnp.outer(b, jnp.ones(3)) @ a,
    "stack": lambda a, b: jnp.stack([a, b]).T @ jnp.array([1.0, -1.0]),
    "row": lambda a, b: jnp.stack([a, b])[1],
}
_CONSTANTS = (jnp.array([0.0, 1.5, -2.0]), jnp.array([0.0, 0.0, 3.0]))

_operations = st.one_of(
    st.tuples(st.sampled_from(sorted(_UNARY)), st.integers(0, 99)),
    st.tuples(st.sampled_from(sorted(_BINARY)), st.integers(0, 99), st.integers(0, 99)),
)


def _run(program, z):
    values = [mark(z), *_CONSTANTS]
    for name, *reads in program:
        operands = [values[r % len(values)] for r in reads]
        op = _UNARY.get(name) or _BINARY[name]
        values.append(op(*operands))
    return values[-1] if program else values[0]


@settings(max_examples=300, deadline=None)
@given(program=st.lists(_operations, min_size=1, max_size=6))
def test_every_yes_holds_for_nan_and_infinities(program):
    def step(z):
        return _run(program, z)

    if not persists(step, Z):
        return
    base = np.array([0.7, -1.3, 0.0])
    for bad in (np.nan, np.inf, -np.inf):
        for position in range(3):
            z = base.copy()
            z[position] = bad
            out = np.asarray(step(jnp.asarray(z, jnp.float32)))
            assert not np.all(np.isfinite(out)), (program, bad, position)


def test_the_program_family_says_yes_and_no():
    # The property test above proves something only if yes answers occur.
    assert persists(lambda z: _run([("add", 0, 1), ("mul", 3, 2)], z), Z)
    assert not persists(lambda z: _run([("exp", 0)], z), Z)


# Two marked sources: every mark left out of `read` can be replaced by anything
# (NaN, ±inf, other numbers) without changing one bit of the result, and every
# mark left out of `lost` turns the result non-finite when it is.
def _run_two(program, z, replace=None):
    sources = [z, 0.5 * z[::-1] + 1.0]
    if replace is not None:
        which, value = replace
        sources[which] = value
    values = [*mark(sources), *_CONSTANTS]
    for name, *reads in program:
        operands = [values[r % len(values)] for r in reads]
        op = _UNARY.get(name) or _BINARY[name]
        values.append(op(*operands))
    return values[-1]


@settings(max_examples=200, deadline=None)
@given(program=st.lists(_operations, min_size=1, max_size=6))
def test_every_unread_and_every_kept_mark_holds(program):
    verdict = analyse(lambda z: _run_two(program, z), Z)
    if verdict is None:
        return
    z = jnp.array([0.7, -1.3, 0.0])
    with np.errstate(invalid="ignore", over="ignore"):
        reference = np.asarray(_run_two(program, z))
        for which in range(2):
            for bad in (np.nan, np.inf, -np.inf):
                for position in range(3):
                    value = np.array([0.3, -2.1, 1.7], np.float32)
                    value[position] = bad
                    out = np.asarray(_run_two(program, z, (which, jnp.asarray(value))))
                    if which not in verdict.read:
                        np.testing.assert_array_equal(out, reference)
                    if which not in verdict.lost:
                        assert not np.all(np.isfinite(out)), (program, which, bad)


def test_the_two_mark_family_has_unread_and_kept_marks():
    # The property test above proves something only if both answers occur.
    assert analyse(lambda z: _run_two([("add", 0, 2)], z), Z) == Verdict(2, (1,), (0,))
    assert analyse(lambda z: _run_two([("mul", 0, 1)], z), Z) == Verdict(2, (), (0, 1))


# solve: the same verdicts on real rules, and divergence found without the trace.
def _sqrt_field(z):
    # V = (−√(3 − x), y): x climbs towards 3 in steps of about α√(3 − x), which
    # overshoot once 3 − x < α²; then √ of a negative number is NaN. √ and
    # subtraction carry the NaN into the iterate: solve need not read its trace.
    x, y = z
    return (-jnp.sqrt(3.0 - x), y)


def _numpy_gda(lr, x, y):
    """Float64 GDA on ``_sqrt_field`` up to the first non-finite field value:
    the iterates before it and the field norms."""
    iterates, norms = [(x, y)], []
    with np.errstate(invalid="ignore"):
        while True:
            vx, vy = -np.sqrt(3.0 - x), y
            norms.append(np.hypot(vx, vy))
            if not np.isfinite(norms[-1]):
                return iterates, norms
            x, y = x - lr * vx, y - lr * vy
            iterates.append((x, y))


@pytest.fixture
def verdicts(monkeypatch):
    """The analyses ``solve`` makes, and the traces it reads after the loop."""
    seen = []

    def spy(*args, **kwargs):
        seen.append(analyse(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(solve_module._propagation, "analyse", spy)
    return seen


@pytest.fixture
def trace_reads(monkeypatch):
    reads = []
    original = solve_module._finite_trace

    def spy(norms):
        reads.append(norms.shape)
        return original(norms)

    monkeypatch.setattr(solve_module, "_finite_trace", spy)
    return reads


def test_solve_finds_divergence_without_reading_the_trace(x64, verdicts):
    lr = 0.5
    iterates, norms = _numpy_gda(lr, 1.0, 1.0)
    stop = len(norms) - 1  # the iteration whose field value is NaN
    assert 3 <= stop < 40
    sol = mmx.solve(_sqrt_field, (jnp.array(1.0), jnp.array(1.0)), mmx.gda(lr), 60)
    assert verdicts == [Verdict(marks=2, lost=(), read=(0, 1))]
    assert int(sol.status) == mmx.Status.DIVERGED
    assert int(sol.stats["num_iterations"]) == stop
    np.testing.assert_allclose([float(p) for p in sol.params], iterates[stop], 1e-12)
    trace = np.asarray(sol.trace["field_norm"])
    np.testing.assert_allclose(trace[:stop], norms[:stop], rtol=1e-12)
    assert np.all(np.isnan(trace[stop:]))


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(mmx.gda(0.5), id="gda"),
        pytest.param(mmx.proximal_point(0.5, inner_steps=3), id="proximal_point"),
        pytest.param(mmx.extragradient(0.5), id="extragradient"),
        pytest.param(mmx.extragradient_plus(0.5), id="extragradient_plus"),
        pytest.param(mmx.optimistic_gda(0.5), id="optimistic_gda"),
        pytest.param(mmx.reflected_gda(0.5), id="reflected_gda"),
        pytest.param(mmx.extra_adam(0.3), id="extra_adam"),
    ],
)
@pytest.mark.standard_promotion
def test_every_rule_stops_where_the_checked_run_stops(x64, verdicts, rule):
    # tol=0 makes solve check every iteration (and never converge here): the
    # same run by the other path, which never reads a trace after the fact.
    z = (jnp.array(1.0), jnp.array(1.0))
    fast = mmx.solve(_sqrt_field, z, rule, 300)
    checked = mmx.solve(_sqrt_field, z, rule, 300, tol=0.0)
    assert verdicts[0].lost == ()
    assert int(fast.status) == int(checked.status) == mmx.Status.DIVERGED
    assert int(fast.stats["num_iterations"]) == int(checked.stats["num_iterations"])
    # The two programs fuse differently: float64 rounding may differ in the last
    # bit, and NaN must sit at the same entries.
    np.testing.assert_allclose(fast.params, checked.params, rtol=1e-12)
    np.testing.assert_allclose(
        fast.trace["field_norm"], checked.trace["field_norm"], rtol=1e-12
    )


def _half_nan(z):
    # Alternating GDA (α = 1) reads only V_x at the committed iterate and only V_y
    # at the midpoint: from (0, 0), iteration k starts at (−k, k) and has its
    # midpoint at (−k−1, k). V_y is NaN at the start of iteration 2 only: a value
    # the rule ignores, so no iterate changes, but the run must stop at (−2, 2).
    x, y = z
    bad = (x + y == 0) & (x <= -2)
    return (jnp.ones_like(x), jnp.where(bad, jnp.nan, -1.0))


@pytest.mark.parametrize("box", [False, True], ids=["free", "box"])
def test_alternating_gda_checks_the_halves_it_ignores(verdicts, trace_reads, box):
    projection = mmx.constraints.box(-5.0, 5.0) if box else None
    z0 = (jnp.array(0.0), jnp.array(0.0))
    sol = mmx.solve(_half_nan, z0, mmx.alternating_gda(1.0), 10, projection=projection)
    # Marks: x and y of the first evaluation, then of the second. The halves the
    # rule ignores (y of the first, x of the second) are lost and read by nothing:
    # solve adds them up in the loop. A box's clip reads and can hide the others
    # too: solve then reads the trace.
    if box:
        assert verdicts == [Verdict(4, (0, 1, 2, 3), (0, 3))]
        assert trace_reads == [(5, 2)]
    else:
        assert verdicts == [Verdict(4, (1, 2), (0, 3))]
        assert trace_reads == []
    assert int(sol.status) == mmx.Status.DIVERGED
    assert [float(p) for p in sol.params] == [-2.0, 2.0]
    assert int(sol.stats["num_iterations"]) == 2
    trace = np.asarray(sol.trace["field_norm"])
    np.testing.assert_allclose(trace[:4], np.sqrt(2.0), rtol=1e-6)
    assert np.isnan(trace[4]) and np.all(np.isnan(trace[6:]))


def test_alternating_gda_under_vmap_stops_only_the_starts_that_meet_the_nan():
    # From (0.5, 0) the iterates never satisfy x + y = 0: no NaN, the whole run.
    starts = (jnp.array([0.0, 0.5, 0.0]), jnp.array([0.0, 0.0, 0.0]))
    rule = mmx.alternating_gda(1.0)
    batched = jax.jit(jax.vmap(lambda z: mmx.solve(_half_nan, z, rule, 10)))(starts)
    assert [int(s) for s in batched.status] == [
        mmx.Status.DIVERGED,
        mmx.Status.MAX_STEPS,
        mmx.Status.DIVERGED,
    ]
    for i in range(3):
        start = (starts[0][i], starts[1][i])
        single = mmx.solve(_half_nan, start, rule, 10)
        for b, p in zip(batched.params, single.params, strict=True):
            assert float(b[i]) == float(p)
        np.testing.assert_array_equal(
            batched.trace["field_norm"][i], single.trace["field_norm"]
        )
        assert int(batched.stats["num_iterations"][i]) == int(
            single.stats["num_iterations"]
        )
    assert [float(p[1]) for p in batched.params] == [-4.5, 5.0]


def test_alternating_gda_with_three_players_checks_every_ignored_part(verdicts):
    # V = (1, 1, 1), α = 1: iteration k moves (−k, −k, −k) one player at a time.
    # Player 0's part is NaN at the second evaluation of iteration 2, at
    # (−3, −2, −2), where the rule reads only player 1's part.
    def field(z):
        a, b, _ = z
        bad = (a == -3.0) & (b == -2.0)
        one = jnp.ones_like(a)
        return (jnp.where(bad, jnp.nan, one), one, one)

    z0 = (jnp.array(0.0), jnp.array(0.0), jnp.array(0.0))
    sol = mmx.solve(field, z0, mmx.alternating_gda(1.0), 15)
    # Nine marks (three evaluations of three parts); evaluation j reads part j.
    assert verdicts == [Verdict(9, (1, 2, 3, 5, 6, 7), (0, 4, 8))]
    assert int(sol.status) == mmx.Status.DIVERGED
    assert [float(p) for p in sol.params] == [-2.0, -2.0, -2.0]
    assert int(sol.stats["num_iterations"]) == 2
    trace = np.asarray(sol.trace["field_norm"])
    np.testing.assert_allclose(trace[:7], np.sqrt(3.0), rtol=1e-6)
    assert np.isnan(trace[7]) and np.all(np.isnan(trace[9:]))
