"""The shape categories of issue 16 (bench_shapes_categories.json), loaded after the
shared v1 set (bench_shapes.json)."""
import json

import pytest

from fastconv.bench import ops, shapes


def _by_name():
    return {s["name"]: s for s in shapes.load_shapes()}


def test_default_set_is_v1_then_categories():
    with open(shapes.DEFAULT_PATH) as f:
        v1 = json.load(f)["shapes"]
    with open(shapes.CATEGORIES_PATH) as f:
        extra = json.load(f)["shapes"]
    assert shapes.load_shapes() == v1 + extra
    assert shapes.load_shapes(shapes.DEFAULT_PATH) == v1


def _has(pred):
    return [s["name"] for s in shapes.load_shapes() if s["op"] == "conv2d" and pred(s)]


@pytest.mark.parametrize("category, pred", [
    ("3-channel 224x224 input, 7x7/2",
     lambda s: s["C"] == 3 and s["H"] == 224 and s["R"] == 7 and s["stride"] == 2),
    ("3-channel 224x224 input, 3x3",
     lambda s: s["C"] == 3 and s["H"] == 224 and s["R"] == 3 and s["stride"] == 1),
    ("dense 5x5", lambda s: s["R"] == 5 and s["groups"] == 1 and s["C"] >= 32),
    ("Inception 35x35", lambda s: s["H"] == 35),
    ("VGG 3x3 at 56", lambda s: s["name"].startswith("vgg") and s["H"] == 56 and s["R"] == 3),
    ("VGG 3x3 at 28", lambda s: s["name"].startswith("vgg") and s["H"] == 28 and s["R"] == 3),
    ("VGG 3x3 at 14", lambda s: s["name"].startswith("vgg") and s["H"] == 14 and s["R"] == 3),
    ("pointwise 1x1", lambda s: s["R"] == 1 and s["stride"] == 1 and s["name"].startswith("pointwise")),
    ("depthwise 5x5", lambda s: shapes.is_depthwise(s) and s["R"] == 5),
])
def test_every_category_is_present(category, pred):
    assert _has(pred), category


def test_names_say_size_kernel_and_batch():
    by = _by_name()
    with open(shapes.CATEGORIES_PATH) as f:
        names = [s["name"] for s in json.load(f)["shapes"]]
    for name in names:
        s = by[name]
        assert name.endswith(f"_n{s['N']}"), name
        assert f"_{s['H']}" in name, name
        if s["R"] != 1:
            assert f"{s['R']}x{s['S']}" in name, name
        if s["stride"] != 1:
            assert f"s{s['stride']}" in name, name


def test_categories_get_forward_and_both_backward_cases():
    names = {c.name for c in ops.cases()}
    for n in ("inception_35_5x5_n8", "vgg_14_3x3_n1", "rgb_224_3x3_n8", "pointwise_7_n16"):
        for p in ops.CONV_PASSES:
            assert f"conv2d/{n}/{p}/auto" in names
    assert "depthwise/dw5x5_s2_56_n16/fwd" in names and "depthwise/dw5x5_28_n16/bwd" in names


def test_a_name_in_both_files_is_refused(tmp_path):
    p = tmp_path / "dup.json"
    with open(shapes.DEFAULT_PATH) as f:
        first = json.load(f)["shapes"][0]
    p.write_text(json.dumps({"shapes": [first]}))
    with pytest.raises(ValueError, match="appears twice"):
        shapes.load_shapes([shapes.DEFAULT_PATH, str(p)])


def test_cli_shapes_replace_the_default_set(tmp_path, capsys):
    from fastconv.bench.cli import main as bench_main
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    conv = dict(op="conv2d", N=1, C=2, H=5, W=5, K=3, R=3, S=3, stride=1, padding=1, groups=1)
    a.write_text(json.dumps({"shapes": [dict(conv, name="mine_a")]}))
    b.write_text(json.dumps({"shapes": [dict(conv, name="mine_b")]}))
    assert bench_main(["--list", "--ops", "conv2d/", "--shapes", str(a), "--shapes", str(b)]) == 0
    names = capsys.readouterr().out.split()
    assert {n.split("/")[1] for n in names} == {"mine_a", "mine_b"}
