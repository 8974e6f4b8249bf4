"""Flax containers are players: ``nnx.State``, ``FrozenDict`` and dicts go through
``field``, ``game_field``, per-player rules, projections, ``solve`` and
``iterate`` and come back in their own type, with the values the same game gives
on a plain tuple."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.core import FrozenDict

import minimaxjax as mmx


class Generator(nnx.Module):
    def __init__(self):
        self.a = nnx.Param(jnp.array([1.0, -2.0]))


class Critic(nnx.Module):
    def __init__(self):
        self.w = nnx.Param(jnp.array([0.5, 1.5]))


class Gan(nnx.Module):
    def __init__(self):
        self.generator = Generator()
        self.critic = Critic()


def phi_arrays(a, w):
    # Φ(a, w) = w·a − ½‖w‖² + ½‖a‖²: strongly convex-concave, saddle at 0.
    return jnp.dot(w, a) - 0.5 * jnp.dot(w, w) + 0.5 * jnp.dot(a, a)


def phi_states(g, c):
    return phi_arrays(g["a"][...], c["w"][...])


def V_reference(a, w):
    """[∇_a Φ, −∇_w Φ] in float64 NumPy."""
    a, w = np.asarray(a, np.float64), np.asarray(w, np.float64)
    return w + a, -(a - w)


def split():
    graphdef, params = nnx.split(Gan(), nnx.Param)
    return graphdef, params


def test_field_on_an_nnx_state_returns_an_nnx_state_with_the_signs_set():
    _, params = split()
    V = mmx.field(phi_states, players=("generator", "critic"))
    out = V(params)
    assert type(out) is nnx.State
    assert jax.tree.structure(out) == jax.tree.structure(params)
    ga, gw = V_reference(params["generator"]["a"][...], params["critic"]["w"][...])
    np.testing.assert_allclose(out["generator"]["a"][...], ga, rtol=1e-6)
    np.testing.assert_allclose(out["critic"]["w"][...], gw, rtol=1e-6)


@pytest.mark.parametrize("container", [dict, FrozenDict], ids=["dict", "FrozenDict"])
def test_field_and_game_field_on_linen_params(container):
    z = container(
        {"critic": jnp.array([0.5, 1.5]), "generator": jnp.array([1.0, -2.0])}
    )
    V = mmx.field(phi_arrays, players=("generator", "critic"))
    out = V(z)
    assert type(out) is container
    ga, gw = V_reference(z["generator"], z["critic"])
    np.testing.assert_allclose(out["generator"], ga, rtol=1e-6)
    np.testing.assert_allclose(out["critic"], gw, rtol=1e-6)
    W = mmx.game_field(
        {
            "generator": lambda z: phi_arrays(z["generator"], z["critic"]),
            "critic": lambda z: -phi_arrays(z["generator"], z["critic"]),
        }
    )
    same = W(z)
    assert type(same) is container
    for key in ("generator", "critic"):
        np.testing.assert_allclose(same[key], out[key], rtol=1e-6)


def test_game_field_on_an_nnx_state_is_the_zero_sum_field():
    _, params = split()
    W = mmx.game_field(
        {
            "generator": lambda z: phi_states(z["generator"], z["critic"]),
            "critic": lambda z: -phi_states(z["generator"], z["critic"]),
        }
    )
    out = W(params)
    assert type(out) is nnx.State
    assert jax.tree.structure(out) == jax.tree.structure(params)
    expected = mmx.field(phi_states, players=("generator", "critic"))(params)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def tuple_solution(rule, steps):
    V = mmx.field(phi_arrays)
    z0 = (jnp.array([1.0, -2.0]), jnp.array([0.5, 1.5]))
    return mmx.solve(V, z0, rule, steps).params


@pytest.mark.parametrize(
    "make",
    [
        lambda lr: mmx.extragradient(lr),
        lambda lr: mmx.optimistic_gda(lr),
        lambda lr: mmx.alternating_gda(lr),
    ],
    ids=["extragradient", "optimistic_gda", "alternating_gda"],
)
def test_per_player_rules_and_solve_on_an_nnx_state(make):
    _, params = split()
    V = mmx.field(phi_states, players=("generator", "critic"))
    rates = {"generator": 0.1, "critic": 0.05}
    sol = mmx.solve(V, params, make(rates), 40)
    assert type(sol.params) is nnx.State
    reference = tuple_solution(make((0.1, 0.05)), 40)
    np.testing.assert_allclose(
        sol.params["generator"]["a"][...], reference[0], rtol=1e-5
    )
    np.testing.assert_allclose(sol.params["critic"]["w"][...], reference[1], rtol=1e-5)


def test_clipping_projects_only_the_critic_of_an_nnx_state():
    _, params = split()
    clip = mmx.constraints.box(-0.25, 0.25, player="critic")
    out = clip(params)
    assert type(out) is nnx.State
    np.testing.assert_array_equal(out["critic"]["w"][...], [0.25, 0.25])
    np.testing.assert_array_equal(out["generator"]["a"][...], [1.0, -2.0])


def test_nnx_optimizer_drives_extragradient_and_iterate_reads_its_state():
    model = Gan()
    optimizer = nnx.Optimizer(model, mmx.extragradient(0.1), wrt=nnx.Param)
    V = mmx.field(phi_states, players=("generator", "critic"))
    start = jax.tree.map(np.asarray, nnx.as_pure(nnx.state(model, nnx.Param)))
    # transparent mode: the first call moves the model to the extrapolated point
    optimizer.update(model, V(nnx.state(model, nnx.Param)))
    a, w = start["generator"]["a"], start["critic"]["w"]
    ga, gw = V_reference(a, w)
    np.testing.assert_allclose(model.generator.a[...], a - 0.1 * ga, rtol=1e-6)
    committed = mmx.iterate(nnx.state(model, nnx.Param), optimizer.opt_state)
    np.testing.assert_allclose(committed["generator"]["a"], a, rtol=1e-6)
    np.testing.assert_allclose(committed["critic"]["w"], w, rtol=1e-6)
    # the second call completes Korpelevich's step from the anchor
    optimizer.update(model, V(nnx.state(model, nnx.Param)))
    gba, gbw = V_reference(a - 0.1 * ga, w - 0.1 * gw)
    np.testing.assert_allclose(model.generator.a[...], a - 0.1 * gba, rtol=1e-6)
    np.testing.assert_allclose(model.critic.w[...], w - 0.1 * gbw, rtol=1e-6)


def test_a_mapping_without_players_and_mismatched_players_are_named():
    V = mmx.field(phi_arrays)
    z = {"generator": jnp.ones(2), "critic": jnp.ones(2)}
    with pytest.raises(ValueError, match=r"players=\(x_key, y_key\)"):
        V(z)
    W = mmx.field(phi_arrays, players=("gen", "critic"))
    with pytest.raises(ValueError, match="exactly the players"):
        W(z)
    with pytest.raises(ValueError, match="players must be a pair"):
        mmx.field(phi_arrays, players=("critic", "critic"))
    _, params = split()
    with pytest.raises(ValueError, match="per-player entries"):
        mmx.solve(
            mmx.field(phi_states, players=("generator", "critic")),
            params,
            mmx.extragradient({"generator": 0.1, "disc": 0.1}),
            2,
        )


def test_optax_sgd_on_an_nnx_state_is_gda():
    # Any optax transformation treats the field as a gradient.
    _, params = split()
    V = mmx.field(phi_states, players=("generator", "critic"))
    tx = optax.sgd(0.1)
    state = tx.init(params)
    updates, _ = tx.update(V(params), state, params)
    moved = optax.apply_updates(params, updates)
    ga, _ = V_reference(params["generator"]["a"][...], params["critic"]["w"][...])
    np.testing.assert_allclose(
        moved["generator"]["a"][...],
        params["generator"]["a"][...] - 0.1 * ga,
        rtol=1e-6,
    )


def test_alternating_turns_give_several_critic_steps_per_generator_step(x64):
    # Five critic moves then one generator move, each seeing the latest point:
    # written out by hand with SGD, in opaque mode (one call) and transparent mode
    # (one call per turn).
    z0 = {"generator": jnp.array([1.0, -2.0]), "critic": jnp.array([0.5, 1.5])}
    V = mmx.field(phi_arrays, players=("generator", "critic"))
    rates = {"critic": 0.1, "generator": 0.05}
    turns = ["critic"] * 5 + ["generator"]
    a, w = np.asarray(z0["generator"]), np.asarray(z0["critic"])
    for _ in range(5):
        w = w - 0.1 * V_reference(a, w)[1]
    a = a - 0.05 * V_reference(a, w)[0]

    rule = mmx.alternating({n: optax.sgd(r) for n, r in rates.items()}, turns=turns)
    state = rule.init(z0)
    updates, _ = rule.update(V(z0), state, z0, field=lambda z, _: V(z))
    opaque = optax.apply_updates(z0, updates)
    z, state = z0, rule.init(z0)
    for _ in turns:
        updates, state = rule.update(V(z), state, z)
        z = optax.apply_updates(z, updates)
    for got in (opaque, z):
        np.testing.assert_allclose(got["critic"], w, rtol=1e-12)
        np.testing.assert_allclose(got["generator"], a, rtol=1e-12)
    assert mmx.rules.evaluations_per_iteration(rule, z0) == 6
    with pytest.raises(ValueError, match="turns must name only the players"):
        mmx.alternating(optax.sgd(0.1), turns=["critic"]).init(z0)
    with pytest.raises(ValueError, match="turns must be a non-empty sequence"):
        mmx.alternating(optax.sgd(0.1), turns="critic")
