"""Benchmarks of minimaxjax: ``python -m benchmarks (the main job) and python -m benchmarks.overhead`` prints a table."""
