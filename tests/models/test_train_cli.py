"""`python -m fastconv train lenet5` trains on the digits and saves weights that load."""
import re

import numpy as np
import pytest

import fastconv
from fastconv.__main__ import main


def test_train_lenet5_two_epochs(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "lenet5.npz"
    assert main(["train", "lenet5", "--epochs", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    acc = [float(a) for a in re.findall(r"test accuracy ([0-9.]+)", text)]
    assert len(acc) == 2
    assert acc[-1] > 0.8, text  # chance is 0.1; two epochs reach about 0.9
    model = fastconv.models.lenet5(num_classes=10)
    fastconv.load(str(out), model)
    model.eval()
    x = np.zeros((2, 1, 32, 32), np.float32)
    assert model(x).shape == (2, 10)
