"""Benchmarks of minimaxjax.

``python -m benchmarks`` is the main job (every rule on every game);
``python -m benchmarks.overhead`` compares ``solve`` with hand-written loops.
"""
