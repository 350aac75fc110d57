"""python -m analysis count: formats, values and one-line errors."""

import json
import os
import subprocess
import sys

import keras
import pytest

from analysis.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_count_json_holds_the_keras_counts(capsys):
    status, out, _ = _run(capsys, "count", "mobilenet", "--alpha", "0.5", "--resolution", "160", "--format", "json")
    assert status == 0
    data = json.loads(out)
    reference = keras.applications.MobileNet(weights=None, alpha=0.5, input_shape=(160, 160, 3))
    assert data["model"] == "mobilenet"
    assert data["params"] == reference.count_params()
    assert data["trainable_params"] + data["non_trainable_params"] == data["params"]
    assert "layers" not in data


def test_count_per_layer_json_lists_every_layer(capsys):
    status, out, _ = _run(capsys, "count", "vgg16", "--num-classes", "10", "--per-layer", "--format", "json")
    assert status == 0
    layers = json.loads(out)["layers"]
    assert [row["name"] for row in layers][-3:] == ["dropout7", "fc8", "fc8_squeezed"]
    fc8 = next(row for row in layers if row["name"] == "fc8")
    assert fc8["output_shape"] == [1, 1, 10] and fc8["params"] == 4096 * 10 + 10
    assert {"name", "type", "output_shape", "params"} <= set(fc8)


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_count_text_formats(capsys, fmt):
    status, out, _ = _run(capsys, "count", "mobilenet", "--alpha", "0.25", "--resolution", "128",
                          "--per-layer", "--format", fmt)
    assert status == 0
    assert "conv_pw_13" in out and "conv_preds" in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["count", "resnet"], "invalid choice: 'resnet'"),
        (["count", "mobilenet", "--alpha", "0"], "alpha=0"),
        (["count", "mobilenet", "--alpha", "wide"], "'wide'"),
        (["count", "mobilenet", "--resolution", "16"], "input_shape=(16, 16, 3)"),
        (["count", "mobilenet", "--num-classes", "0"], "num_classes=0"),
        (["count", "vgg16", "--alpha", "0.5"], "alpha applies to mobilenet only"),
        (["count", "vgg16", "--format", "yaml"], "invalid choice: 'yaml'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, fragment):
    status, out, err = _run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err


def test_command_line_error_has_no_traceback():
    result = subprocess.run([sys.executable, "-m", "analysis", "count", "mobilenet", "--alpha", "-1"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m analysis count: error: alpha must be a number greater than 0. Received alpha=-1.0"
    ]


def test_compare_json_ratios(capsys):
    status, out, _ = _run(capsys, "compare", "vgg16", "mobilenet", "--alpha", "0.25", "--format", "json")
    assert status == 0
    data = json.loads(out)
    vgg, mobile = data["models"]
    assert vgg["model"] == "VGG16" and mobile["model"] == "MobileNet 0.25/224"
    assert data["ratios"]["macs"] == vgg["macs"] / mobile["macs"]
    assert vgg["params"] == 138_357_544


def test_compare_conv_and_shallow_options(capsys):
    status, out, _ = _run(capsys, "compare", "mobilenet", "vgg16", "--conv", "--format", "csv")
    assert status == 0 and "Conv MobileNet 1.0/224" in out
    status, out, _ = _run(capsys, "count", "mobilenet", "--shallow", "--per-layer", "--format", "csv")
    assert status == 0 and "conv_dw_7" not in out and "conv_dw_12" in out


def test_compare_needs_two_models(capsys):
    status, _, err = _run(capsys, "compare", "vgg16", "vgg16")
    assert status == 2 and "two different models" in err


def test_count_crosscheck_adds_the_independent_counters(capsys):
    status, out, _ = _run(capsys, "count", "mobilenet", "--alpha", "0.25", "--resolution", "64",
                          "--crosscheck", "--per-layer", "--format", "json")
    assert status == 0
    data = json.loads(out)
    assert data["all_agree"] is True and data["fvcore_total_macs"] == data["macs"]
    assert data["tf_conv_flops"] == 2 * data["macs"]
    pointwise = next(row for row in data["layers"] if row["name"] == "conv_pw_13")
    assert pointwise["fvcore_macs"] == pointwise["macs"] == 2 * 2 * 256 * 256
    assert pointwise["agree"] is True
