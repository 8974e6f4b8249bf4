"""Bad input to the update rules is rejected before any computation, with a message
naming the argument, what it got and what it needs."""

import jax.numpy as jnp
import optax
import pytest

import minimaxjax as mmx

Z = (jnp.array(1.0), jnp.array(1.0))


@pytest.mark.parametrize("inner_steps", [0, -1])
def test_inner_steps_must_be_positive(inner_steps):
    with pytest.raises(
        ValueError, match=rf"inner_steps must be a positive int.*{inner_steps}"
    ):
        mmx.proximal_point(0.1, inner_steps=inner_steps)


@pytest.mark.parametrize("inner_steps", [2.0, True, "3"])
def test_inner_steps_must_be_an_int(inner_steps):
    with pytest.raises(TypeError, match="inner_steps must be a positive int"):
        mmx.proximal_point(0.1, inner_steps=inner_steps)


@pytest.mark.parametrize(
    "factory",
    [
        mmx.gda,
        mmx.alternating_gda,
        mmx.proximal_point,
        mmx.extragradient,
        mmx.extragradient_plus,
        mmx.optimistic_gda,
        mmx.reflected_gda,
        mmx.extra_adam,
    ],
)
def test_per_player_learning_rate_must_match_players(factory):
    opt = factory((0.1, 0.2, 0.3))
    with pytest.raises(
        ValueError,
        match=r"learning_rate has 3 per-player entries.*params has 2 players",
    ):
        opt.init(Z)


def test_per_player_dict_keys_must_match():
    opt = mmx.extragradient({"gen": 0.1, "disc": 0.2})
    with pytest.raises(ValueError, match=r"learning_rate has 2 .*\['gen', 'disc'\]"):
        opt.init({"generator": jnp.ones(()), "critic": jnp.ones(())})


@pytest.mark.parametrize("learning_rate", ["0.1", None, jnp.ones(3)])
def test_learning_rate_must_be_a_scalar_or_schedule(learning_rate):
    with pytest.raises(TypeError, match="learning_rate must be a scalar, an optax"):
        mmx.extragradient(learning_rate)


def test_phase_scales_must_match_phases():
    with pytest.raises(ValueError, match="phase_scales must have one entry per phase"):
        mmx.extra(optax.sgd(0.1), num_phases=3, phase_scales=(1.0, 0.5))


def test_update_needs_params():
    opt = mmx.extragradient(0.1)
    with pytest.raises(ValueError, match="update needs params"):
        opt.update(Z, opt.init(Z))


def test_alternating_needs_a_transformation():
    with pytest.raises(TypeError, match="optimizer must be an optax transformation"):
        mmx.alternating(0.1)


def test_per_player_needs_a_container():
    with pytest.raises(TypeError, match="optimizers must be a tuple/list or dict"):
        mmx.per_player(optax.sgd(0.1))
