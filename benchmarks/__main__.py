"""``python -m benchmarks``: every rule on every game (see :mod:`benchmarks.games`)."""

from benchmarks.games import main

if __name__ == "__main__":
    raise SystemExit(main())
