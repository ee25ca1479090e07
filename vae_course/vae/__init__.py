"""The library: the VAE's maths, layers, model, ELBO, flows, data, saving, figures and training recipes.

It imports nothing of the course (lessons, checks, exercises, command line); `tests/test_architecture.py` checks.
"""
