"""``python -m benchmarks.adversarial``: a quick run prints the tables and writes the
plots; the command line rejects unknown names."""

import contextlib
import io
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.adversarial import __main__ as bench
from benchmarks.adversarial import train

EPSILONS = ("0.05", "0.1", "0.2")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("adversarial")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert bench.main(["--quick", "--out", str(out)]) == 0
    return printed.getvalue(), out


def rows(text, eps):
    block = text.split(f"mlp, ε = {eps}: accuracy (%) on the test set")[1]
    found = {}
    for line in block.splitlines()[3:7]:
        match = re.match(r"(\w+)\s+(best|last) \(ep (\d+)\)\s+(.*)", line)
        assert match, line
        found[match[1], match[2]] = [float(v) for v in match[4].split()]
    return found


def test_quick_run_prints_every_attack_at_every_radius(quick_run):
    text, _ = quick_run
    assert "machine:" in text
    for eps in EPSILONS:
        table = rows(text, eps)
        assert set(table) == {
            (m, c) for m in ("standard", "pgd_at") for c in ("best", "last")
        }
        for values in table.values():
            clean, *attacks, worst = values
            assert len(attacks) == len(train.ATTACKS)
            # an example robust in the worst case is robust to each attack
            assert worst <= min(attacks) <= clean
    assert "validation PGD-10 accuracy (%) per epoch" in text


def test_quick_run_writes_the_plots(quick_run):
    _, out = quick_run
    for kind in ("accuracy", "curves", "examples"):
        path = out / f"adversarial_digits_mlp_{kind}.png"
        assert path.stat().st_size > 10_000, path


def test_unknown_names_are_rejected_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--methods", "pgd_at,free_at"])
    assert "unknown methods free_at; choose from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "vit"])
    assert "unknown models vit" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown method 'x'"):
        train.make_method("x", 0.1)


def test_every_method_builds_and_steps_a_linear_model():
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(8, 4, 4, 1)), jnp.float32)
    y = jnp.arange(8) % 4
    w = jnp.zeros((16, 4))

    def logits_fn(w, v):
        return v.reshape(len(v), -1) @ w

    for name in train.METHODS:
        signal = train.make_method(name, 0.1)(logits_fn, w, x, y, jax.random.key(0))
        assert signal.gradient.shape == w.shape, name
        assert float(jnp.max(jnp.abs(signal.inputs - x))) <= 0.1 + 1e-6, name
        assert float(jnp.min(signal.inputs)) >= 0.0, name
