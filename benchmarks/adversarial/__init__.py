"""Adversarial training on real data: ``python -m benchmarks.adversarial``."""
