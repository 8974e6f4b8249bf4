"""``benchmarks.memory``: each registered rule's state holds what its algorithm
needs (in copies of the params), and the quick run writes its JSON."""

import json

import jax.numpy as jnp
import pytest

import minimaxjax as mmx
from benchmarks import memory

# Copies of the params each rule's state must hold, from the rule's definition
# (not from a run):
#   gda:            z⁺ = z − αV(z); optax.sgd keeps nothing.                     0
#   alternating:    x⁺ = x − αVx(x, y), y⁺ = y − αVy(x⁺, y); one sgd per player,
#                   nothing but the int phase of the player to move.             0
#   proximal point: K fixed-point steps w_{j+1} = z − αV(w_j), each from z^k: the
#                   anchor z^k (transparent mode moves params to w_j).           1
#   extragradient:  z̄ = z − αV(z), z⁺ = z − αV(z̄): the anchor z^k.              1
#   EG+:            as extragradient with a shorter second step: the anchor.     1
#   OGDA:           z⁺ = z − α(2V(z^k) − V(z^{k−1})): the previous field value.  1
#   reflected GDA:  z⁺ = z − αV(2z^k − z^{k−1}); params hold the reflected
#                   point, so the committed iterate z^k.                         1
#   ExtraAdam:      Adam's first and second moments m, v, and the anchor z^k.    3
EXPECTED_COPIES = {
    "gda": 0,
    "alternating_gda": 0,
    "proximal_point": 1,
    "extragradient": 1,
    "extragradient_plus": 1,
    "optimistic_gda": 1,
    "reflected_gda": 1,
    "extra_adam": 3,
}
# What opaque mode (solve, the GAN steps) needs of that state: the extra-gradient
# family steps from params, so its anchor is not needed there.
EXPECTED_OPAQUE = {
    "gda": 0,
    "alternating_gda": 0,
    "proximal_point": 0,
    "extragradient": 0,
    "extragradient_plus": 0,
    "optimistic_gda": 1,
    "reflected_gda": 1,
    "extra_adam": 2,
}
# Any pytree of players: mixed shapes, two players, one of them nested.
PARAMS = {
    "x": {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)},
    "y": jnp.zeros(5),
}


def test_every_registered_rule_has_an_expected_size():
    assert set(EXPECTED_COPIES) == set(mmx.rules.RULES)
    assert set(memory.OPAQUE_NEEDS) == set(mmx.rules.RULES)


@pytest.mark.parametrize("rule", sorted(EXPECTED_COPIES))
@pytest.mark.parametrize("params", ["small", "gan"])
def test_state_size_is_what_the_rule_needs(rule, params):
    tree = PARAMS if params == "small" else memory.game_params()
    size = memory.state_size(mmx.rules.RULES[rule].build(0.1), tree)
    assert size["copies"] == EXPECTED_COPIES[rule]
    assert size["float_elements"] == EXPECTED_COPIES[rule] * size["param_elements"]
    # Besides the copies only scalars: a step count, a phase, a flag.
    assert size["other_elements"] <= 2


def test_opaque_needs_are_the_expected_ones():
    assert memory.OPAQUE_NEEDS == EXPECTED_OPAQUE


def test_opaque_extragradient_passes_its_anchor_through_unread():
    """The state holds the anchor in opaque mode too (init cannot know the mode):
    an opaque update returns it unchanged, whatever it holds."""
    opt = mmx.extragradient(0.1)
    z = (jnp.ones(3), jnp.ones(2))
    state = opt.init(z)
    poisoned = state._replace(anchor=(jnp.full(3, jnp.nan), jnp.full(2, jnp.nan)))
    u, new = opt.update(z, poisoned, z, field=lambda w, phase: w)
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in u)  # the anchor is unread
    assert all(bool(jnp.all(jnp.isnan(a))) for a in new.anchor)  # and kept


@pytest.mark.standard_promotion  # optax's Adam takes b1 ** count with an int count
def test_quick_run_writes_the_json(tmp_path, capsys):
    out = tmp_path / "memory.json"
    memory.main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert set(data) == {"machine", "batch", "state", "gan_step"}
    assert set(data["state"]) == set(mmx.rules.RULES)
    assert set(data["gan_step"]) == set(memory.QUICK_RULES)
    for row in data["gan_step"].values():
        if row:  # a backend without memory_analysis gives {}
            assert row["peak"] == (
                row["argument"] + row["output"] + row["temp"] - row["alias"]
            )
            assert row["peak"] > 0
    printed = capsys.readouterr().out
    assert "copies" in printed and "peak KiB" in printed
