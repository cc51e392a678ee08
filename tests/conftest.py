import numpy as np
import pytest


@pytest.fixture
def rng():
    """One seeded generator per test, so every run sees the same signals."""
    return np.random.default_rng(20261126)
