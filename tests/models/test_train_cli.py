"""`python -m fastconv train`: LeNet-5 on the digits, every model on synthetic data and
on an image folder, checkpoints and --resume, help for every option, and early clear
errors for missing optional packages and bad option combinations."""
import os
import re

import numpy as np
import pytest

import fastconv
from fastconv.__main__ import main
from fastconv.models import train as cli


def _accuracies(text, key="val_accuracy"):
    return [float(a) for a in re.findall(rf"\b{key} ([0-9.]+)", text)]


def test_train_lenet5_two_epochs(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "lenet5.npz"
    assert main(["train", "lenet5", "--epochs", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    acc = _accuracies(text)
    assert len(acc) == 2
    assert acc[-1] > 0.8, text  # chance is 0.1; two epochs reach about 0.9
    model = fastconv.models.lenet5(num_classes=10)
    fastconv.load(str(out), model)
    model.eval()
    x = np.zeros((2, 1, 32, 32), np.float32)
    assert model(x).shape == (2, 10)


@pytest.mark.parametrize("model, size", [("lenet5", 32), ("alexnet", 67), ("resnet18", 32),
                                         ("resnet34", 32), ("resnet50", 32)])
def test_every_model_trains_on_synthetic_data(model, size, tmp_path, capsys):
    out = tmp_path / "w.npz"
    assert main(["train", model, "--synthetic", "--image-size", str(size), "--samples", "8",
                 "--num-classes", "3", "--batch-size", "4", "--epochs", "1",
                 "--out", str(out)]) == 0
    assert len(re.findall(r"^epoch 1/1  loss", capsys.readouterr().out, re.M)) == 1
    net = cli.MODELS[model](num_classes=3)
    fastconv.load(str(out), net)          # the saved weights fit the network


def test_checkpoint_and_resume(tmp_path, capsys):
    ck = str(tmp_path / "ck.npz")
    args = ["train", "lenet5", "--synthetic", "--samples", "32", "--num-classes", "4",
            "--batch-size", "8", "--out", "", "--checkpoint", ck]
    assert main(args + ["--epochs", "1"]) == 0
    assert fastconv.train.load_checkpoint(ck)["epoch"] == 1
    with pytest.raises(SystemExit) as e:             # never overwritten by accident
        main(args + ["--epochs", "2"])
    assert e.value.code == 2 and "pass --resume" in capsys.readouterr().err
    assert main(args + ["--epochs", "2", "--resume"]) == 0
    text = capsys.readouterr().out
    assert "resumed from" in text and "epoch 2/2" in text and "epoch 1/2" not in text
    assert fastconv.train.load_checkpoint(ck)["epoch"] == 2
    with pytest.raises(SystemExit):
        main(["train", "lenet5", "--synthetic", "--resume"])
    assert "--resume needs --checkpoint" in capsys.readouterr().err


def test_image_folder(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for c, level in (("dark", 40), ("light", 210)):
        os.makedirs(tmp_path / "imgs" / c)
        for i in range(6):
            a = np.clip(level + rng.integers(-30, 30, (20, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(tmp_path / "imgs" / c / f"{i}.png")
    assert main(["train", "lenet5", "--data", str(tmp_path / "imgs"), "--val-fraction", "0.25",
                 "--batch-size", "3", "--epochs", "3", "--lr", "0.01", "--out", ""]) == 0
    acc = _accuracies(capsys.readouterr().out)
    assert len(acc) == 3                      # dark against light: easy to learn
    assert main(["train", "resnet18", "--data", str(tmp_path / "imgs"), "--image-size", "32",
                 "--batch-size", "4", "--epochs", "1", "--out", "", "--workers", "2"]) == 0


def test_every_option_has_help(capsys):
    parser = cli.build_parser()
    for action in parser._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help text"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for opt in ("--data", "--synthetic", "--checkpoint", "--resume", "--epochs", "--workers"):
        assert opt in text


def _without(monkeypatch, missing):
    real = cli._available
    monkeypatch.setattr(cli, "_available", lambda m: m != missing and real(m))


@pytest.mark.parametrize("args, missing, package", [
    (["lenet5"], "sklearn", "scikit-learn"),
    (["resnet18", "--data", "."], "PIL", "Pillow"),
    (["lenet5", "--torch"], "torch", "torch"),
])
def test_missing_optional_package_fails_early(monkeypatch, capsys, args, missing, package):
    _without(monkeypatch, missing)
    monkeypatch.setattr(cli, "fit", lambda *a, **k: pytest.fail("trained anyway"))
    with pytest.raises(SystemExit) as e:
        main(["train", *args, "--out", ""])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"pip install {package}" in err, err


@pytest.mark.parametrize("args, message", [
    (["alexnet"], "needs data"),
    (["lenet5", "--synthetic", "--image-size", "28"], "32x32"),
    (["lenet5", "--synthetic", "--data", "x"], "exclude each other"),
    (["lenet5", "--batch-size", "0"], "--batch-size"),
    (["lenet5", "--val-fraction", "1.5"], "--val-fraction"),
    (["resnet18", "--synthetic", "--torch"], "LeNet-5 on the digits"),
])
def test_bad_option_combinations(capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["train", *args, "--out", ""])
    assert e.value.code == 2 and message in capsys.readouterr().err
