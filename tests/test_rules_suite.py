"""The suite every update rule passes: jit, vmap, dtypes, hyperparameter injection,
nested pytrees, stochastic fields and sharding, in both modes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

LR = 0.1

# Every registered rule, with proximal point at 3 fixed-point steps.
OPTIONS = {"proximal_point": {"inner_steps": 3}}
RULES = {
    name: (lambda lr, spec=spec: spec.build(lr, **OPTIONS.get(spec.name, {})))
    for name, spec in mmx.rules.RULES.items()
}
# Field evaluations per iteration, from each rule's definition (docs/concepts.md).
EVALUATIONS = {
    "gda": 1,
    "alternating_gda": 2,
    "proximal_point": 3,
    "extragradient": 2,
    "extragradient_plus": 2,
    "optimistic_gda": 1,
    "reflected_gda": 1,
    "extra_adam": 2,
}


@pytest.mark.standard_promotion  # optax's Adam takes b1 ** count with an int count
def test_every_registered_rule_has_its_evaluation_count_here():
    assert set(EVALUATIONS) == set(RULES)
    z = start()
    for name, count in EVALUATIONS.items():
        assert mmx.rules.evaluations_per_iteration(RULES[name](LR), z) == count


rules = pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.standard_promotion)
        if n == "extra_adam"
        else n
        for n in sorted(RULES)
    ],
)


def phi(x, y):
    """Strongly-convex–strongly-concave with bilinear coupling: a unique saddle at
    the origin, so every rule converges with a small step."""
    xs = jnp.concatenate([jnp.ravel(v) for v in jax.tree.leaves(x)])
    ys = jnp.concatenate([jnp.ravel(v) for v in jax.tree.leaves(y)])
    n = min(xs.shape[0], ys.shape[0])
    return 0.5 * jnp.sum(xs**2) + jnp.sum(xs[:n] * ys[:n]) - 0.5 * jnp.sum(ys**2)


V = mmx.field(phi)


def start(dtype=jnp.float32):
    x = {"w": jnp.full((2, 2), 0.5, dtype), "b": jnp.array([1.0, -1.0], dtype)}
    y = [jnp.array([0.3, 0.2, -0.4], dtype)]
    return (x, y)


def transparent_steps(opt, z, state, n):
    for _ in range(n):
        updates, state = opt.update(V(z), state, z)
        z = optax.apply_updates(z, updates)
    return z, state


def opaque_step(opt, z, state):
    updates, state = opt.update(V(z), state, z, field=lambda w, phase: V(w))
    return optax.apply_updates(z, updates), state


@rules
def test_jit_does_not_recompile(name):
    opt = RULES[name](LR)
    z = start()
    state = opt.init(z)

    @jax.jit
    def transparent(z, state):
        updates, state = opt.update(V(z), state, z)
        return optax.apply_updates(z, updates), state

    @jax.jit
    def opaque(z, state):
        return opaque_step(opt, z, state)

    for step in (transparent, opaque):
        z1, s1 = step(z, state)
        z2, s2 = step(z1, s1)
        step(z2, s2)
        assert step._cache_size() == 1, f"{name}: recompiled on a later call"


@rules
def test_solve_vmap_over_64_starts_compiles_once(name):
    opt = RULES[name](LR)
    num_steps = 6 * EVALUATIONS[name]
    scale = jnp.linspace(-1.0, 1.0, 64, dtype=jnp.float32)
    starts = jax.tree.map(
        lambda a: scale.reshape((64,) + (1,) * a.ndim) * a[None], start()
    )

    run = jax.jit(jax.vmap(lambda z: mmx.solve(V, z, opt, num_steps)))
    batched = run(starts)
    run(jax.tree.map(lambda a: 2 * a, starts))
    assert run._cache_size() == 1
    for i in (0, 17, 63):
        single = mmx.solve(V, jax.tree.map(lambda a, i=i: a[i], starts), opt, num_steps)
        np.testing.assert_allclose(
            np.concatenate([np.ravel(a[i]) for a in jax.tree.leaves(batched.params)]),
            np.concatenate([np.ravel(a) for a in jax.tree.leaves(single.params)]),
            rtol=1e-5,
            atol=1e-6,
        )
    assert batched.trace["field_norm"].shape == (64, num_steps)
    np.testing.assert_array_equal(
        batched.stats["num_evaluations"], np.full(64, num_steps)
    )


@rules
def test_solve_vmap_over_step_sizes(name):
    lrs = jnp.array([0.05, 0.1, 0.2], jnp.float32)
    num_steps = 4 * EVALUATIONS[name]
    batched = jax.vmap(lambda lr: mmx.solve(V, start(), RULES[name](lr), num_steps))(
        lrs
    )
    for i, lr in enumerate([0.05, 0.1, 0.2]):
        single = mmx.solve(V, start(), RULES[name](lr), num_steps)
        np.testing.assert_allclose(
            batched.trace["field_norm"][i], single.trace["field_norm"], rtol=1e-5
        )


@rules
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64, jnp.bfloat16])
def test_dtypes_are_kept(name, dtype):
    with jax.enable_x64(dtype == jnp.float64):
        opt = RULES[name](LR)
        z0 = start(dtype)
        state0 = opt.init(z0)
        state_dtypes = [jnp.result_type(x) for x in jax.tree.leaves(state0)]
        z, state = transparent_steps(opt, z0, state0, 2 * EVALUATIONS[name])
        z_opaque, state_opaque = opaque_step(opt, z0, state0)
        for tree in (z, z_opaque, mmx.iterate(z, state)):
            assert all(jnp.result_type(a) == dtype for a in jax.tree.leaves(tree))
        for s in (state, state_opaque):
            assert [jnp.result_type(x) for x in jax.tree.leaves(s)] == state_dtypes
        sol = mmx.solve(V, z0, opt, 2 * EVALUATIONS[name])
        assert all(jnp.result_type(a) == dtype for a in jax.tree.leaves(sol.params))
        assert bool(jnp.all(jnp.isfinite(sol.trace["field_norm"])))


@rules
def test_inject_hyperparams_matches_plain_rule(name):
    factories = {
        "proximal_point": lambda learning_rate: mmx.proximal_point(
            learning_rate, inner_steps=3
        ),
        "extragradient_plus": lambda learning_rate: mmx.extragradient_plus(
            learning_rate, 0.5
        ),
    }
    factory = factories.get(name, getattr(mmx, name))
    injected = optax.inject_hyperparams(factory)(learning_rate=LR)
    plain = RULES[name](LR)
    n = 3 * EVALUATIONS[name]
    z_a, s_a = transparent_steps(injected, start(), injected.init(start()), n)
    z_b, s_b = transparent_steps(plain, start(), plain.init(start()), n)
    chex_close(mmx.iterate(z_a, s_a), mmx.iterate(z_b, s_b))
    sol_a = mmx.solve(V, start(), injected, n)
    sol_b = mmx.solve(V, start(), plain, n)
    chex_close(sol_a.params, sol_b.params)

    # The learning rate lives in the state and can be changed between steps.
    s_a.hyperparams["learning_rate"] = jnp.asarray(0.0, jnp.float32)
    z_frozen, _ = transparent_steps(injected, z_a, s_a, EVALUATIONS[name])
    if name != "reflected_gda":  # params hold the reflected point there
        chex_close(mmx.iterate(z_frozen, s_a), mmx.iterate(z_a, s_a))


def chex_close(a, b, rtol=1e-5, atol=1e-6):
    import chex

    chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


@rules
def test_nested_dict_players_match_flat_players(name):
    opt = RULES[name](LR)
    x, y = start()
    nested = {"attacker": {"x": x}, "defender": {"inner": {"y": y}}}

    def phi_dict(x, y):
        return phi(x["x"], y["inner"]["y"])

    # A dict z needs game_field; the zero-sum field of a dict is (Φ, −Φ) per key.
    V_dict = mmx.game_field(
        {
            "attacker": lambda z: phi_dict(z["attacker"], z["defender"]),
            "defender": lambda z: -phi_dict(z["attacker"], z["defender"]),
        }
    )
    n = 2 * EVALUATIONS[name]
    sol_dict = mmx.solve(V_dict, nested, opt, n)
    sol_flat = mmx.solve(V, (x, y), opt, n)
    chex_close(sol_dict.params["attacker"]["x"], sol_flat.params[0])
    chex_close(sol_dict.params["defender"]["inner"]["y"], sol_flat.params[1])
    np.testing.assert_allclose(
        sol_dict.trace["field_norm"], sol_flat.trace["field_norm"], rtol=1e-5
    )


@rules
def test_stochastic_field_gets_a_fresh_key_per_evaluation(name):
    opt = RULES[name](LR)
    seen = []

    def noisy(z, key):
        seen.append(key)
        noise = jax.tree.map(
            lambda a, k: 0.1 * jax.random.normal(k, a.shape, a.dtype),
            z,
            jax.tree.unflatten(
                jax.tree.structure(z),
                list(jax.random.split(key, len(jax.tree.leaves(z)))),
            ),
        )
        return jax.tree.map(jnp.add, V(z), noise)

    n = 4 * EVALUATIONS[name]
    a = mmx.solve(noisy, start(), opt, n, key=jax.random.key(0))
    b = mmx.solve(noisy, start(), opt, n, key=jax.random.key(0))
    c = mmx.solve(noisy, start(), opt, n, key=jax.random.key(1))
    np.testing.assert_array_equal(a.trace["field_norm"], b.trace["field_norm"])
    assert not np.allclose(a.trace["field_norm"], c.trace["field_norm"])

    # Under one key, the noise differs between evaluations: compare with the same
    # run where each evaluation's noise is replaced by the noise of evaluation 0.
    def fixed(z, key):
        del key
        return noisy(z, jax.random.key(7))

    d = mmx.solve(fixed, start(), opt, n, key=jax.random.key(0))
    assert not np.allclose(a.trace["field_norm"], d.trace["field_norm"])


@rules
def test_sharded_starts(name):
    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip("needs two devices (XLA_FLAGS host device count)")
    mesh = jax.sharding.Mesh(np.array(devices[:2]), ("starts",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("starts"))
    opt = RULES[name](LR)
    num_steps = 4 * EVALUATIONS[name]
    scale = jnp.linspace(-1.0, 1.0, 8, dtype=jnp.float32)
    starts = jax.tree.map(
        lambda a: scale.reshape((8,) + (1,) * a.ndim) * a[None], start()
    )
    starts = jax.device_put(starts, sharding)
    run = jax.jit(jax.vmap(lambda z: mmx.solve(V, z, opt, num_steps).params))
    out = run(starts)
    assert all(len(a.sharding.device_set) == 2 for a in jax.tree.leaves(out))
    reference = jax.vmap(lambda z: mmx.solve(V, z, opt, num_steps).params)(
        jax.device_get(starts)
    )
    chex_close(out, reference)
