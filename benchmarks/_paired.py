"""Paired timing shared by the speed benchmarks: interleaved rounds in a rotating
order, ratios taken round by round (see ``benchmarks/README.md``)."""

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Result:
    """Times per contender, one per round."""

    times: dict[str, list[float]]
    label_width: int = 22

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratios(self, name: str, over: str) -> list[float]:
        """``name``'s time over ``over``'s, round by round."""
        return [a / b for a, b in zip(self.times[name], self.times[over], strict=True)]

    def ratio_line(self, name: str, over: str, label: str) -> str:
        r = self.ratios(name, over)
        return (
            f"{label:<{self.label_width}} {statistics.median(r):.3f}  "
            f"(min-max {min(r):.3f}-{max(r):.3f}, {len(r)} rounds)"
        )


def measure(
    runs: dict[str, Callable[[], object]], repeats: int, label_width: int = 22
) -> Result:
    """``repeats`` rounds, each one call of every contender in a rotating order."""
    names = list(runs)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            runs[k]()
            times[k].append(time.perf_counter() - start)
    return Result(times, label_width)


def torch_available() -> bool:
    """Whether ``import torch`` works."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux)."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return cpu


def jax_threads() -> int:
    """The cores XLA:CPU's thread pool uses (one thread per available core)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def max_rel(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> float:
    """The largest ``|got - want| / max|want|`` over the leaves."""
    return max(
        float(np.max(np.abs(g - w)) / max(float(np.max(np.abs(w))), 1e-30))
        for g, w in zip(got, want, strict=True)
    )
