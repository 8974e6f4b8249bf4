"""DDi: the minimum-norm element of the convex hull of several gradients."""

import jax
import jax.numpy as jnp

from minimaxjax._tree import check_positive_int
from minimaxjax._types import PyTree
from minimaxjax.constraints import simplex

__all__ = ["min_norm_direction"]


def _gram(gradients: PyTree) -> jax.Array:
    """``G_ij = ⟨g_i, g_j⟩`` over all leaves, accumulated in at least float32."""
    leaves = jax.tree.leaves(gradients)
    if not leaves:
        raise ValueError("gradients has no leaves: pass a pytree of arrays.")
    sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None for leaf in leaves}
    if None in sizes or len(sizes) != 1:
        shapes = [jnp.shape(leaf) for leaf in leaves]
        raise ValueError(
            "every leaf of gradients must have the same leading axis K (one slice "
            f"per gradient g_1, ..., g_K), got leaf shapes {shapes}."
        )
    wide = any(jnp.result_type(leaf) == jnp.float64 for leaf in leaves)
    dtype = jnp.float64 if wide else jnp.float32
    flats = [jnp.reshape(jnp.asarray(x).astype(dtype), (len(x), -1)) for x in leaves]
    gram = flats[0] @ flats[0].T
    for flat in flats[1:]:
        gram = gram + flat @ flat.T
    return gram


def min_norm_direction(
    gradients: PyTree, *, num_steps: int = 256
) -> tuple[PyTree, jax.Array]:
    r"""The minimum-norm element of the convex hull of K gradients (DDi).

    With ``G_ij = ⟨g_i, g_j⟩`` (the K×K Gram matrix, over all leaves), solve the
    quadratic programme on the simplex

    .. math::

        λ^\star = \arg\min_{λ ∈ Δ_K} λ^\top G λ
                = \arg\min_{λ ∈ Δ_K} \Big\| \sum_k λ_k g_k \Big\|^2,
        \qquad d = \sum_k λ^\star_k g_k,

    by accelerated projected gradient (FISTA) with step ``1 / (2 λ_max(G))``
    and the Euclidean projection onto the simplex, from ``λ = 1/K``.

    When ``g_k = ∇_x Φ(x, δ_k)`` at maximisers ``δ_k`` of the inner problem
    (for instance K random-start attacks), ``−d`` is a descent direction of
    ``f(x) = max_δ Φ(x, δ)`` whenever one exists among the convex combinations of
    the ``g_k``, which a single ``g_k`` need not be (Danskin's theorem gives
    ``D_γ f(x) = max_{δ ∈ S^*(x)} ⟨γ, ∇_x Φ(x, δ)⟩``). Step with
    ``x ← x − α d``; ``d = 0`` says no such descent direction exists.

    Args:
      gradients: a pytree whose leaves all have a leading axis of length K, slice
        ``k`` holding gradient ``g_k`` (what ``jax.vmap`` over K attacks returns).
      num_steps: accelerated projected-gradient iterations; the error in
        ``‖d‖²`` decays as ``O(1/num_steps²)``.

    Returns:
      ``(direction, weights)``: ``d``, a pytree shaped like one slice of
      ``gradients`` (in its dtypes), and ``λ``, shape ``(K,)``, on the simplex.

    Example:
      Danskin's counterexample: ``f(x) = max_{δ ∈ [−1, 1]} xδ = |x|``. At
      ``x = 0`` every δ is a maximiser; the gradient at δ = 1 is ``1``, and
      ``−1`` is no descent direction (``f(−t) = t > f(0)``). DDi on the gradients
      at δ = −1 and δ = 1 returns ``0``: ``x = 0`` is the minimum.

      >>> import jax.numpy as jnp
      >>> import minimaxjax.adversarial as adv
      >>> d, weights = adv.min_norm_direction(jnp.array([[-1.0], [1.0]]))
      >>> float(d[0]), [float(w) for w in weights]
      (0.0, [0.5, 0.5])

    References:
      Latorre, Krawczuk, Dadi, Pethick and Cevher, *Finding actual descent
      directions for adversarial training*, ICLR 2023,
      https://openreview.net/forum?id=I3HCE7Ro78H. Beck and Teboulle, *A fast
      iterative shrinkage-thresholding algorithm for linear inverse problems*,
      SIAM J. Imaging Sciences 2009.
    """
    num_steps = check_positive_int(num_steps, "num_steps")
    gram = _gram(gradients)
    num = gram.shape[0]
    largest = jnp.linalg.eigvalsh(gram)[-1]
    # All gradients zero: any λ is optimal and the step does not matter.
    step = jnp.where(largest > 0, 0.5 / jnp.where(largest > 0, largest, 1), 0)
    project = simplex()

    def body(
        _: int, carry: tuple[jax.Array, jax.Array, jax.Array]
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        weights, momentum_point, t = carry
        new_weights = project(momentum_point - step * 2 * (gram @ momentum_point))
        new_t = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
        new_point = new_weights + ((t - 1) / new_t) * (new_weights - weights)
        return new_weights, new_point, new_t

    start = jnp.full((num,), 1 / num, gram.dtype)
    one = jnp.ones([], gram.dtype)
    weights, _, _ = jax.lax.fori_loop(0, num_steps, body, (start, start, one))
    direction = jax.tree.map(
        lambda g: jnp.tensordot(weights.astype(g.dtype), g, axes=1).astype(g.dtype),
        gradients,
    )
    return direction, weights
