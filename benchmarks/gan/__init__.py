"""The mixture-of-Gaussians GAN benchmark: ``python -m benchmarks.gan``."""
