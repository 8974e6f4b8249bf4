"""The rule–driver protocol: a rule written here, outside the library, works with
solve, iterate, the registry and the diagnostics; adaptive rules keep to the
budget; solve records iterates; status messages for arrays."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

V = mmx.field(lambda x, y: x * y)  # V(z) = Jz, J = [[0, 1], [−1, 0]]
J = np.array([[0.0, 1.0], [-1.0, 0.0]])


class LookaheadState(NamedTuple):
    """A user's rule state: the anchor z^k and the phase (0: at z^k, 1: at z̄)."""

    anchor: optax.Params
    phase: jax.Array

    def committed(self, params):
        return jax.tree.map(
            lambda p, a: jnp.where(self.phase == 0, p, a), params, self.anchor
        )


def halved_extragradient(lr):
    """z̄ = z − αV(z); z⁺ = z − (α/2)V(z̄): EG+ with β = ½, written from scratch
    with the protocol (transparent and opaque modes)."""

    def init(params):
        return LookaheadState(params, jnp.zeros([], jnp.int32))

    def update(g, state, params=None, *, field=None, **extra):
        del extra
        if field is None:  # transparent: one evaluation per call
            anchor = state.committed(params)
            scale = jnp.where(state.phase == 0, lr, lr / 2)
            target = jax.tree.map(lambda a, v: a - scale * v, anchor, g)
            updates = jax.tree.map(lambda t, p: t - p, target, params)
            return updates, LookaheadState(anchor, (state.phase + 1) % 2)
        z_bar = jax.tree.map(lambda a, v: a - lr * v, params, g)
        g_bar = field(z_bar, 1)
        return jax.tree.map(lambda v: -lr / 2 * v, g_bar), state

    return optax.GradientTransformationExtraArgs(init, update)


def z0():
    return (jnp.array(1.0), jnp.array(0.0))


def test_a_custom_rule_counts_two_evaluations_under_solve(x64):
    rule = halved_extragradient(0.5)
    assert mmx.rules.evaluations_per_iteration(rule, z0()) == 2
    sol = mmx.solve(V, z0(), rule, 9)
    assert int(sol.stats["num_evaluations"]) == 8
    assert int(sol.stats["num_iterations"]) == 4
    # On Φ = xy: M = I − A/2 + A²/2 with A = αJ, A² = −α²I, so ‖z‖ shrinks by
    # |1 − α²/2 ∓ iα/2| = √((1 − α²/2)² + α²/4) per iteration.
    a = 0.5
    rate = np.sqrt((1 - a**2 / 2) ** 2 + a**2 / 4)
    np.testing.assert_allclose(float(jnp.hypot(*sol.params)), rate**4, rtol=1e-12)
    # It equals the library's EG+ with β = ½, evaluation for evaluation.
    library = mmx.solve(V, z0(), mmx.extragradient_plus(0.5, 0.5), 9)
    np.testing.assert_allclose(
        sol.trace["field_norm"], library.trace["field_norm"], rtol=1e-12
    )


def test_iterate_finds_a_custom_state_inside_an_optax_chain(x64):
    rule = optax.chain(optax.identity(), halved_extragradient(0.5))
    z = z0()
    state = rule.init(z)
    updates, state = rule.update(V(z), state, z)
    z_bar = optax.apply_updates(z, updates)
    assert [float(v) for v in z_bar] == [1.0, 0.5]  # z − αJz, Jz = (0, −1)
    assert [float(v) for v in mmx.iterate(z_bar, state)] == [1.0, 0.0]
    updates, state = rule.update(V(z_bar), state, z_bar)
    z1 = optax.apply_updates(z_bar, updates)
    # z⁺ = z − (α/2)J z̄ = (1 − 0.25·0.5, 0 + 0.25·1)
    assert [float(v) for v in mmx.iterate(z1, state)] == [0.875, 0.25]


def test_a_registered_custom_rule_has_its_linear_map_in_the_diagnostics(x64):
    name = "halved_extragradient_test"
    spec = mmx.rules.RuleSpec(
        name,
        halved_extragradient,
        linear_map=lambda A, sizes: np.eye(len(A)) - A / 2 + A @ A / 2,
    )
    if name not in mmx.rules.RULES:
        mmx.rules.register(spec)
    with pytest.raises(ValueError, match="registered already"):
        mmx.rules.register(spec)
    alpha = 0.3
    closed = mmx.diagnostics.linear_update_map(name, J, alpha)
    # Against the map read off the rule's code by jacfwd at z* = 0.
    numeric = mmx.diagnostics.update_map(
        halved_extragradient(alpha), V, (jnp.array(0.0), jnp.array(0.0))
    )
    np.testing.assert_allclose(closed, numeric, atol=1e-12)
    assert mmx.rules.RULES[name].evaluations(z0()) == 2


def forsaken():
    def phi(u):
        return u**2 / 4 - u**4 / 2 + u**6 / 6

    return mmx.field(lambda x, y: x * (y - 0.45) + phi(x) - phi(y))


@pytest.mark.parametrize("num_steps", [3, 10, 50, 101, 400])
def test_adaptive_rule_never_exceeds_the_budget_and_reports_its_use(num_steps):
    # Count the field's real calls with a host callback: an independent witness.
    calls = []
    field = forsaken()

    def counted(z):
        jax.debug.callback(lambda: calls.append(1))
        return field(z)

    opt = mmx.adaptive_extragradient_plus(
        max_backtracks=2, projection=mmx.constraints.box(-1.5, 1.5)
    )
    z = (jnp.array(1.0), jnp.array(-0.8))
    sol = mmx.solve(counted, z, opt, num_steps)
    jax.effects_barrier()
    used = int(sol.stats["num_evaluations"])
    # One call per evaluation, but the check of the field's output shape at z0
    # is abstract and makes none.
    assert used == len(calls)
    assert used <= num_steps
    # It stops only when the next iteration might not fit (at most 2 + 3 calls).
    assert num_steps - used < 5
    trace = np.asarray(sol.trace["field_norm"])
    assert np.all(np.isfinite(trace[:used])) and np.all(np.isnan(trace[used:]))


def test_save_every_records_the_committed_iterates(x64):
    # GDA on xy multiplies z by M = I − αJ each iteration: closed form.
    a, n = 0.1, 12
    sol = mmx.solve(V, z0(), mmx.gda(a), n, save_every=3)
    M = np.eye(2) - a * J
    expected = [np.linalg.matrix_power(M, k) @ [1.0, 0.0] for k in range(0, n + 1, 3)]
    got = np.stack([np.asarray(v) for v in sol.trace["iterates"]], axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_save_every_marks_iterates_after_a_divergence_as_nan(x64):
    # x doubles per iteration until the field turns NaN at x > 5: iterates 1, 2,
    # 4 are committed; the fourth evaluation (at x = 8) is NaN.
    def doubling(z):
        x, y = z
        return (jnp.where(x > 5, jnp.nan, -x), jnp.zeros_like(y))

    sol = mmx.solve(doubling, z0(), mmx.gda(1.0), 8, save_every=1)
    assert int(sol.status) == mmx.Status.DIVERGED
    xs = np.asarray(sol.trace["iterates"][0])
    np.testing.assert_array_equal(xs[:4], [1.0, 2.0, 4.0, 8.0])
    assert np.all(np.isnan(xs[4:]))


def test_trajectory_is_solve_with_save_every(x64):
    run = mmx.diagnostics.trajectory(V, z0(), mmx.extragradient(0.5), 5)
    sol = mmx.solve(V, z0(), mmx.extragradient(0.5), 12, save_every=2)
    for a, b in zip(run.iterates, sol.trace["iterates"], strict=True):
        np.testing.assert_allclose(a, b[:6], rtol=1e-12)
    np.testing.assert_allclose(run.field_norm, sol.trace["field_norm"][::2], rtol=1e-12)


def test_status_message_of_a_vmapped_solve():
    rates = jnp.array([0.1, 3.0])
    status = jax.vmap(lambda a: mmx.solve(V, z0(), mmx.gda(a), 1000).status)(rates)
    messages = mmx.status_message(status)
    assert messages.shape == (2,)
    assert messages[0] == mmx.status_message(mmx.Status.MAX_STEPS)
    assert messages[1] == mmx.status_message(mmx.Status.DIVERGED)


@pytest.mark.parametrize("save_every", [0, -1, 1.5, True])
def test_solve_rejects_a_bad_save_every(save_every):
    with pytest.raises((TypeError, ValueError), match="save_every"):
        mmx.solve(V, z0(), mmx.gda(0.1), 10, save_every=save_every)
