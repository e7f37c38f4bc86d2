"""select() given no training data says so, instead of failing deep inside with a TypeError."""

import pytest

from daekit.noise_select import select


def test_select_without_train_data_names_it():
    # _array(None) used to return None, and select() then crashed on len(None).
    with pytest.raises(ValueError, match="train is None"):
        select(None, task="anomaly", budget=60, steps=1, quiet=True)
