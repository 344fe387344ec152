"""EASE's two routes to the same weights: items' side (Cholesky) and users' side (Woodbury)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from openpersonalize.recipes import _ease


@pytest.mark.parametrize(("users", "items"), [(60, 400), (400, 60)])
def test_both_routes_give_the_same_weights(users: int, items: int, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = sp.random(users, items, density=0.05, format="csr", random_state=3, dtype=np.float32)
    matrix.data[:] = 1.0
    monkeypatch.setattr(_ease, "USERS_SIDE_RATIO", 1e9)  # users' side whenever allowed
    via_users = _ease.ease_weights(matrix, 50.0)
    monkeypatch.setattr(_ease, "USERS_SIDE_RATIO", 0.0)  # always the items' side
    via_items = _ease.ease_weights(matrix, 50.0)
    np.testing.assert_allclose(via_users, via_items, atol=1e-5)
    assert not np.diagonal(via_users).any()
