"""Training and evaluation of the adversarial-training benchmark.

Every method trains through ``minimaxjax.adversarial.nnx_train_step``; the best
checkpoint is the epoch with the highest PGD-10 accuracy on a validation split
held out from the training set (Rice et al.'s early stopping), the last is the
end of training. Evaluation runs each attack on every test example; the worst
case counts an example as robust only if no attack fools it.
"""

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from benchmarks.adversarial.data import Dataset, batches
from minimaxjax import adversarial as adv

BOUNDS = (0.0, 1.0)

METHODS = (
    "standard",
    "fgsm_at",
    "fgsm_rs",
    "pgd_at",
    "trades",
    "mart",
    "beta_at",
    "ddi",
)
DEFAULT_METHODS = ("standard", "fgsm_at", "pgd_at", "trades", "mart", "beta_at", "ddi")
ATTACKS = ("FGSM", "PGD-10", "PGD-40", "BETA-10", "APGD-CE", "APGD-T")


def make_method(name: str, eps: float) -> adv.Method:
    """The training method ``name`` at radius ε, with the papers' settings."""
    ball: dict[str, Any] = {"eps": eps, "bounds": BOUNDS}
    pgd10 = {**ball, "step_size": eps / 4, "num_steps": 10}
    makers: dict[str, Callable[[], adv.Method]] = {
        "standard": adv.standard,
        "fgsm_at": lambda: adv.fgsm_at(**ball),
        "fgsm_rs": lambda: adv.fgsm_at(**ball, random_start=True),
        "pgd_at": lambda: adv.pgd_at(**pgd10),
        "trades": lambda: adv.trades(**pgd10, beta=6.0),
        "mart": lambda: adv.mart(**pgd10, lam=6.0),
        "beta_at": lambda: adv.beta_at(**pgd10),
        "ddi": lambda: adv.ddi(**pgd10, num_attacks=4),
    }
    if name not in makers:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return makers[name]()


def make_attacks(
    logits_fn: Callable[[jax.Array], jax.Array],
    eps: jax.typing.ArrayLike,
    *,
    apgd_steps: int = 100,
    targets: int = 3,
) -> dict[str, Callable[[jax.Array, jax.Array, jax.Array], jax.Array]]:
    """The evaluation attacks at radius ε: ``attack(inputs, labels, key)``.

    PGD uses α = 2.5ε/N (Madry et al.); APGD-T attacks the ``targets`` classes
    with the highest clean logits after the true one, one APGD run each with the
    targeted DLR loss, keeping per example the first success (AutoAttack runs 9
    targets; fewer keep the benchmark at minutes on two cores).
    """

    def ce(labels: jax.Array) -> Callable[[jax.Array], jax.Array]:
        return lambda x: adv.cross_entropy(logits_fn(x), labels)

    def pgd(steps: int) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
        def attack(x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
            return adv.pgd(
                ce(y),
                x,
                eps=eps,
                step_size=2.5 * eps / steps,
                num_steps=steps,
                key=key,
                bounds=BOUNDS,
            )

        return attack

    def fgsm(x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
        del key
        return adv.fgsm(ce(y), x, eps, bounds=BOUNDS)

    def beta(x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
        return adv.beta_attack(
            logits_fn,
            x,
            y,
            eps=eps,
            step_size=eps / 4,
            num_steps=10,
            key=key,
            bounds=BOUNDS,
        )

    def apgd_ce(x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
        return adv.apgd(ce(y), x, eps=eps, num_steps=apgd_steps, key=key, bounds=BOUNDS)

    def apgd_t(x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
        logits = logits_fn(x)
        ranked = jnp.argsort(
            -jnp.where(jax.nn.one_hot(y, logits.shape[-1]) > 0, -jnp.inf, logits),
            axis=-1,
        )
        best = x
        fooled = jnp.zeros(x.shape[0], bool)
        for t, target_key in enumerate(jax.random.split(key, targets)):
            target = ranked[:, t]
            point = adv.apgd(
                lambda v, target=target: adv.targeted_dlr_loss(logits_fn(v), y, target),
                x,
                eps=eps,
                num_steps=apgd_steps,
                key=target_key,
                bounds=BOUNDS,
            )
            wrong = jnp.argmax(logits_fn(point), axis=-1) != y
            take = wrong & ~fooled
            best = jnp.where(take.reshape((-1,) + (1,) * (x.ndim - 1)), point, best)
            fooled = fooled | wrong
        return best

    return {
        "FGSM": fgsm,
        "PGD-10": pgd(10),
        "PGD-40": pgd(40),
        "BETA-10": beta,
        "APGD-CE": apgd_ce,
        "APGD-T": apgd_t,
    }


class Snapshot(NamedTuple):
    """A checkpoint: the model's state (all variables) and the epoch it is from."""

    state: Any
    epoch: int


class History(NamedTuple):
    """Per epoch: mean training loss, validation clean/FGSM/PGD-10 accuracy."""

    loss: list[float]
    clean: list[float]
    fgsm: list[float]
    pgd: list[float]


def _copy(tree: Any) -> Any:
    return jax.tree.map(lambda a: jnp.array(a, copy=True), tree)


def logits_of(graphdef: Any, state: Any) -> Callable[[jax.Array], jax.Array]:
    """The model's eval-mode forward pass at a checkpoint."""
    model = nnx.merge(graphdef, state)
    model.eval()
    return model


@functools.cache
def _correct(
    graphdef: Any, attack: str | None, apgd_steps: int, targets: int
) -> Callable[..., jax.Array]:
    """A compiled ``(state, x, y, key, eps) -> correct?``, one per model and attack
    (ε is an argument, so every radius shares the compilation)."""

    def correct(
        state: Any, x: jax.Array, y: jax.Array, key: jax.Array, eps: jax.Array
    ) -> jax.Array:
        logits_fn = logits_of(graphdef, state)
        if attack is not None:
            made = make_attacks(logits_fn, eps, apgd_steps=apgd_steps, targets=targets)
            x = made[attack](x, y, key)
        return jnp.argmax(logits_fn(x), axis=-1) == y

    return jax.jit(correct)


def accuracy_under(
    graphdef: Any,
    state: Any,
    attack: str | None,
    inputs: np.ndarray,
    labels: np.ndarray,
    key: jax.Array,
    *,
    eps: float = 1.0,
    apgd_steps: int = 100,
    targets: int = 3,
    chunk: int = 250,
) -> np.ndarray:
    """Per example, whether the prediction at ``attack``'s point is correct.

    The inputs go through in chunks of ``chunk`` (the last one padded), so each
    model and attack compiles once.
    """
    correct = _correct(graphdef, attack, apgd_steps, targets)
    out = []
    for start in range(0, len(inputs), chunk):
        x, y = inputs[start : start + chunk], labels[start : start + chunk]
        pad = chunk - len(y) if len(inputs) > chunk else 0
        x = np.concatenate([x, np.repeat(x[-1:], pad, 0)])
        y = np.concatenate([y, np.repeat(y[-1:], pad, 0)])
        k = jax.random.fold_in(key, start)
        ok = correct(state, jnp.asarray(x), jnp.asarray(y), k, jnp.float32(eps))
        out.append(np.asarray(ok)[: len(ok) - pad])
    return np.concatenate(out)


def train(
    model: nnx.Module,
    method: adv.Method,
    data: Dataset,
    *,
    epochs: int,
    batch_size: int,
    tx: optax.GradientTransformation,
    eps: float,
    seed: int,
    validation: int,
    progress: Callable[[Iterable[int]], Iterable[int]] = lambda r: r,
) -> tuple[Snapshot, Snapshot, History]:
    """Train ``model`` with ``method``; return the best and last checkpoints."""
    x_val, y_val = data.train_inputs[:validation], data.train_labels[:validation]
    x_train, y_train = data.train_inputs[validation:], data.train_labels[validation:]
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    step = adv.nnx_train_step(method)
    key = jax.random.key(seed)
    history = History([], [], [], [])
    best: Snapshot | None = None
    best_pgd = -1.0
    for epoch in progress(range(epochs)):
        model.train()
        losses = []
        for i, (x, y) in enumerate(
            batches(x_train, y_train, batch_size, key_or_seed=seed * 1000 + epoch)
        ):
            metrics = step(
                model,
                optimizer,
                jnp.asarray(x),
                jnp.asarray(y),
                jax.random.fold_in(key, epoch * 10_000 + i),
            )
            losses.append(float(metrics["loss"]))
        graphdef, state = nnx.split(model)
        val_key = jax.random.fold_in(jax.random.key(seed + 1), epoch)
        clean, fgsm, pgd = (
            accuracy_under(graphdef, state, a, x_val, y_val, val_key, eps=eps).mean()
            for a in (None, "FGSM", "PGD-10")
        )
        for values, value in zip(
            history, (np.mean(losses), clean, fgsm, pgd), strict=True
        ):
            values.append(float(value))
        if pgd > best_pgd:
            best_pgd, best = float(pgd), Snapshot(_copy(state), epoch + 1)
    assert best is not None
    return best, Snapshot(_copy(nnx.split(model)[1]), epochs), history


def evaluate(
    graphdef: Any,
    snapshot: Snapshot,
    data: Dataset,
    eps_values: Sequence[float],
    *,
    seed: int,
    attacks: Sequence[str] = ATTACKS,
    apgd_steps: int = 100,
    targets: int = 3,
) -> dict[str, Any]:
    """Clean accuracy, and per ε each attack's and the worst case's accuracy."""
    x, y = data.test_inputs, data.test_labels
    key = jax.random.key(seed)
    clean = accuracy_under(graphdef, snapshot.state, None, x, y, key)
    result: dict[str, Any] = {"clean": float(clean.mean()), "epoch": snapshot.epoch}
    for eps in eps_values:
        robust = clean.copy()
        per_attack = {}
        for name in attacks:
            ok = accuracy_under(
                graphdef,
                snapshot.state,
                name,
                x,
                y,
                jax.random.fold_in(key, 7),
                eps=eps,
                apgd_steps=apgd_steps,
                targets=targets,
            )
            per_attack[name] = float(ok.mean())
            robust &= ok
        per_attack["worst"] = float(robust.mean())
        result[eps] = per_attack
    return result
