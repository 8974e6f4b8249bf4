"""TRADES and MART losses against their formulas, written in float64 NumPy here."""

import jax.numpy as jnp
import numpy as np
import pytest

from minimaxjax import adversarial


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _reference(clean, adv, labels, weight, kind):
    p, q = _softmax(clean), _softmax(adv)
    rows = np.arange(len(labels))
    kl = np.sum(p * (np.log(p) - np.log(q)), axis=1)
    if kind == "trades":
        return -np.log(p[rows, labels]) + weight * kl
    wrong = q.copy()
    wrong[rows, labels] = -np.inf
    boosted = -np.log(q[rows, labels]) - np.log(1 - wrong.max(axis=1))
    return boosted + weight * kl * (1 - p[rows, labels])


@pytest.mark.parametrize("kind", ["trades", "mart"])
def test_losses_match_their_formulas(x64, kind):
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(16, 5)) * 2
    adv = clean + rng.normal(size=(16, 5))
    labels = rng.integers(0, 5, size=16)
    loss = adversarial.trades_loss if kind == "trades" else adversarial.mart_loss
    got = loss(jnp.asarray(clean), jnp.asarray(adv), jnp.asarray(labels), 3.0)
    np.testing.assert_allclose(
        got, _reference(clean, adv, labels, 3.0, kind), rtol=1e-12
    )


def test_kl_divergence_is_zero_only_at_equal_distributions(x64):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(8, 4))
    kl = adversarial.kl_divergence(jnp.asarray(z), jnp.asarray(z + 3.0))
    np.testing.assert_allclose(kl, 0.0, atol=1e-14)  # softmax is shift-invariant
    other = adversarial.kl_divergence(jnp.asarray(z), jnp.asarray(z[::-1]))
    assert np.all(np.asarray(other)[:4] > 0)


@pytest.mark.parametrize("loss", [adversarial.trades_loss, adversarial.mart_loss])
def test_bad_arguments_are_named(loss):
    z, y = jnp.zeros((2, 3)), jnp.array([0, 1])
    with pytest.raises(ValueError, match="adv_logits"):
        loss(z, jnp.zeros((2, 4)), y)
    with pytest.raises(ValueError, match="labels"):
        loss(z, z, jnp.array([0, 3]))
    with pytest.raises(ValueError, match=r"beta|lam"):
        loss(z, z, y, -1.0)
