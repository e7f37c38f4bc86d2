"""daekit.metrics: the score functions the benchmarks and apps share."""

import numpy as np
import pytest

from daekit.metrics import roc_auc


def test_roc_auc_matches_definition_with_ties():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, 200).astype(float)
    y = rng.integers(0, 2, 200)
    pos, neg = s[y == 1], s[y == 0]
    want = np.mean((pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None]))
    assert roc_auc(s, y) == pytest.approx(want)
    assert roc_auc(s, np.zeros(200)) == 0.5
