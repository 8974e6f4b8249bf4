"""Problem constants sampled on a domain: Lipschitz constant, weak-Minty ρ."""

from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax._tree import players
from minimaxjax._types import Field, PyTree
from minimaxjax.diagnostics._flat import (
    as_rows,
    check_callable,
    common_dtype,
    flatten,
    unflatten,
)
from minimaxjax.diagnostics._stability import jacobian

Domain: TypeAlias = Any
"""A box ``((lo_x, hi_x), (lo_y, hi_y))`` like ``Game.bounds``, or a
``sampler(key, num_samples)``."""


class SampleEstimate(NamedTuple):
    """An extremum over sampled points.

    Attributes:
      value: the extreme value found (a Python float).
      point: where it was attained (a pytree with the structure of ``z``).
    """

    value: float
    point: PyTree


def _box_bounds(domain: Any) -> tuple[PyTree, PyTree]:
    """Split a box ``((lo_1, hi_1), (lo_2, hi_2), …)`` into lower and upper corners."""
    message = (
        "domain must be a box with one interval (lo, hi) per player, like "
        "Game.bounds: ((lo_x, hi_x), (lo_y, hi_y)), each lo/hi a scalar or a pytree "
        "shaped like that player; or a sampler(key, num_samples)"
    )
    if not isinstance(domain, (tuple, list, dict)):
        raise TypeError(f"{message}; got {type(domain).__name__}.")
    lower, upper = {}, {}
    for name in players(domain):
        interval = domain[name]
        if not isinstance(interval, (tuple, list)) or len(interval) != 2:
            raise ValueError(f"{message}; domain[{name!r}] is {interval!r}.")
        lo, hi = (jax.tree.map(jnp.asarray, b) for b in interval)
        lo_def: Any = jax.tree.structure(lo)  # jaxlib ships no PyTreeDef stubs
        if lo_def != jax.tree.structure(hi) or any(
            jnp.shape(a) != jnp.shape(b)
            for a, b in zip(jax.tree.leaves(lo), jax.tree.leaves(hi), strict=True)
        ):
            raise ValueError(
                f"domain[{name!r}]: lo and hi must have the same structure and shapes."
            )
        lower[name], upper[name] = lo, hi
    if isinstance(domain, dict):
        return lower, upper
    rebuild = type(domain)
    return rebuild(lower[i] for i in lower), rebuild(upper[i] for i in upper)


def _sample_points(
    domain: Domain, num_samples: int, key: jax.Array | None, grid_size: int
) -> tuple[Callable[[], jax.Array], Callable[[jax.Array], PyTree]]:
    """A traceable maker of the flat points ``(N, d)`` and the map row -> ``z``."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"num_samples must be an int, got {num_samples!r}.")
    if num_samples < 0:
        raise ValueError(f"num_samples must be non-negative, got {num_samples}.")
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 0:
        raise ValueError(f"grid_size must be a non-negative int, got {grid_size!r}.")
    if key is None:
        key = jax.random.PRNGKey(0)
    if callable(domain):
        if grid_size:
            raise ValueError("grid_size needs a box domain, not a sampler.")
        batch = domain(key, num_samples)
        rows = jnp.asarray(
            as_rows(
                batch,
                "sampler(key, num_samples) must return points stacked on a leading "
                "axis of one common length",
            )
        )
        templates = [
            jnp.zeros(np.shape(x)[1:], x.dtype) for x in jax.tree.leaves(batch)
        ]
        treedef = jax.tree.structure(batch)
        count = rows.shape[0]

        def make_rows() -> jax.Array:
            return rows

    else:
        lower, upper = _box_bounds(domain)
        templates = jax.tree.leaves(lower)
        treedef = jax.tree.structure(lower)
        dtype = common_dtype(templates)
        lo = flatten(templates, dtype)
        hi = flatten(jax.tree.leaves(upper), dtype)
        if not bool(jnp.all(hi >= lo)):
            raise ValueError("domain must have lo <= hi for every player's interval.")
        d = lo.shape[0]
        if grid_size and grid_size**d > 10**7:
            raise ValueError(
                f"grid_size={grid_size} in {d} dimensions is {grid_size**d} points; "
                "use random samples (grid_size=0) in high dimension."
            )
        count = num_samples + (grid_size**d if grid_size else 0)
        # Drawn with NumPy, seeded by the key: the same points for the same key,
        # without compiling a JAX sampler for every sample shape.
        seed = np.asarray(jax.random.key_data(key)).ravel().tolist()
        unit = np.random.default_rng(seed).random((num_samples, d))

        def make_rows() -> jax.Array:
            parts = [lo[None, :] + (hi - lo)[None, :] * jnp.asarray(unit, dtype)]
            if grid_size:
                axes = [jnp.linspace(lo[i], hi[i], grid_size) for i in range(d)]
                mesh = jnp.meshgrid(*axes, indexing="ij")
                parts.append(jnp.stack([m.ravel() for m in mesh], axis=1))
            return jnp.concatenate(parts)

    if count == 0:
        raise ValueError("no sample points: give num_samples > 0 or grid_size > 0.")

    def to_tree(row: jax.Array) -> PyTree:
        return jax.tree.unflatten(treedef, unflatten(row, templates))

    return make_rows, to_tree


def _sampled_extremum(
    quantity: Callable[[jax.Array], jax.Array],
    make_rows: Callable[[], jax.Array],
    to_tree: Callable[[jax.Array], PyTree],
    *,
    largest: bool,
) -> SampleEstimate:
    # Sampling, evaluation and the extremum in one compiled program.
    @jax.jit
    def evaluate() -> tuple[jax.Array, jax.Array]:
        rows = make_rows()
        values = jax.lax.map(quantity, rows, batch_size=1024)
        index = jnp.nanargmax(values) if largest else jnp.nanargmin(values)
        return values[index], rows[index]

    value, row = evaluate()
    return SampleEstimate(float(value), to_tree(row))


def lipschitz_estimate(
    field: Field,
    domain: Domain,
    *args: Any,
    num_samples: int = 10_000,
    grid_size: int = 0,
    key: jax.Array | None = None,
    dense: bool | None = None,
) -> SampleEstimate:
    r"""Estimate the Lipschitz constant of the field on a domain, by sampling.

    On a convex domain the Lipschitz constant of ``V`` is the largest Jacobian
    norm, so the estimate is

    .. math::

        \hat L = \max_{z \in \text{samples}} ‖DV(z)‖_2 \;\le\; L,

    a lower bound that tightens with more samples. Each norm is exact (SVD of the
    dense Jacobian) for small games and a power iteration
    (:func:`minimaxjax.jacobian_operator_norm`) otherwise. ``1/L̂`` is the usual
    step size for extragradient-type rules.

    Args:
      field: ``V(z, *args)``.
      domain: a box with one interval per player, ``((lo_x, hi_x), (lo_y,
        hi_y))`` as :attr:`minimaxjax.games.Game.bounds` (each bound a scalar, or a
        pytree shaped like that player), sampled uniformly; or
        ``sampler(key, num_samples)`` returning points stacked on a leading axis.
      *args: extra arguments of the field.
      num_samples: random points.
      grid_size: also evaluate a regular grid with this many points per
        coordinate (boxes only; 0 for none).
      key: PRNG key seeding the samples (a fixed key if None): a box is sampled
        by NumPy's generator seeded with the key's data, a sampler gets the key.
      dense: use dense Jacobians (default: when ``z`` has at most 64 entries).

    Returns:
      A :class:`SampleEstimate`: ``L̂`` and the point attaining it.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y + x**2)        # DV = [[2, 1], [-1, 0]]
      >>> box = ((-1.0, 1.0), (-1.0, 1.0))        # x in [-1, 1], y in [-1, 1]
      >>> round(mmx.diagnostics.lipschitz_estimate(V, box, num_samples=100).value, 4)
      2.4142

    References:
      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    from minimaxjax.operators import jacobian_operator_norm

    check_callable(field, "field")
    make_rows, to_tree = _sample_points(domain, num_samples, key, grid_size)
    if dense is None:
        dense = jax.eval_shape(make_rows).shape[1] <= 64

    def norm_at(row: jax.Array) -> jax.Array:
        z = to_tree(row)
        if dense:
            return jnp.linalg.norm(jacobian(field, z, *args), ord=2)
        return jacobian_operator_norm(field, z, *args)

    return _sampled_extremum(norm_at, make_rows, to_tree, largest=True)


def weak_minty_rho(
    field: Field,
    solution: PyTree,
    domain: Domain,
    *args: Any,
    num_samples: int = 10_000,
    grid_size: int = 0,
    key: jax.Array | None = None,
) -> SampleEstimate:
    r"""Estimate the weak Minty (weak MVI) constant ρ of a field on a domain.

    The weak MVI holds with parameter ρ around a solution ``z*`` when

    .. math::

        ⟨V(z), z − z^\star⟩ \;\ge\; ρ\, ‖V(z)‖² \quad \text{for all } z,

    so the best (largest) ρ is the infimum of the ratio; the estimate is its
    minimum over the samples (an upper bound on the true ρ):

    .. math::

        \hat ρ = \min_{z \in \text{samples},\, V(z) ≠ 0}
                 \frac{⟨V(z), z − z^\star⟩}{‖V(z)‖²}.

    ``ρ ≥ 0`` is the Minty condition (monotone games satisfy it); negative ρ lets
    ``V`` point away from ``z*``. EG+ converges for ``ρ > −1/(8L)`` (Diakonikolas et
    al. 2021), CEG+ for ``ρ > −1/(2L)`` (Pethick et al. 2022). On a box with
    another critical point the infimum is ``−∞`` (the ratio blows up there),
    which the estimate approaches as samples get close.

    Args:
      field: ``V(z, *args)``.
      solution: ``z*``, a pytree shaped like ``z``.
      domain: a box ``((lo_x, hi_x), (lo_y, hi_y))`` or a sampler, as in
        :func:`lipschitz_estimate`.
      *args: extra arguments of the field.
      num_samples: random points.
      grid_size: also evaluate a regular grid with this many points per
        coordinate (boxes only; 0 for none).
      key: PRNG key seeding the samples (a fixed key if None): a box is sampled
        by NumPy's generator seeded with the key's data, a sampler gets the key.

    Returns:
      A :class:`SampleEstimate`: ``ρ̂`` and the point attaining it.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> # Pethick et al.'s lower-bound game: V(z) = [[b, a], [-a, b]] z
      >>> a, b = 2 * 2 ** 0.5, -1.0
      >>> V = mmx.field(lambda x, y: a * x * y + b / 2 * x**2 - b / 2 * y**2)
      >>> z_star = (jnp.array(0.0), jnp.array(0.0))
      >>> box = ((-1.0, 1.0), (-1.0, 1.0))        # x in [-1, 1], y in [-1, 1]
      >>> rho = mmx.diagnostics.weak_minty_rho(V, z_star, box, num_samples=100)
      >>> round(rho.value, 4), round(b / (a**2 + b**2), 4)
      (-0.1111, -0.1111)

    References:
      Diakonikolas, Daskalakis & Jordan, *Efficient Methods for Structured
      Nonconvex-Nonconcave Min-Max Optimization*, AISTATS 2021,
      https://arxiv.org/abs/2011.00364. Pethick et al., *Escaping limit cycles:
      Global convergence for constrained nonconvex-nonconcave minimax problems*,
      ICLR 2022, https://openreview.net/forum?id=2_vhkAMARk.
    """
    check_callable(field, "field")
    make_rows, to_tree = _sample_points(domain, num_samples, key, grid_size)
    points = jax.eval_shape(make_rows)
    solution = jax.tree.map(jnp.asarray, solution)
    star = flatten(jax.tree.leaves(solution), points.dtype)
    if star.shape[0] != points.shape[1]:
        raise ValueError(
            f"solution has {star.shape[0]} entries but the domain's points have "
            f"{points.shape[1]}; give z* with the structure of z."
        )

    def ratio_at(row: jax.Array) -> jax.Array:
        value = flatten(jax.tree.leaves(field(to_tree(row), *args)), row.dtype)
        square = jnp.sum(value**2)
        inner = jnp.sum(value * (row - star))
        safe = jnp.where(square > 0, square, 1.0)
        return jnp.where(square > 0, inner / safe, jnp.inf)

    return _sampled_extremum(ratio_at, make_rows, to_tree, largest=False)
