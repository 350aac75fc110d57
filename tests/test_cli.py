"""python -m analysis count: formats, values and one-line errors."""

import json
import os
import subprocess
import sys

from nets.backend import keras
import pytest

from analysis.cli import main

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
    assert data["variant"] == "MobileNet 0.5/160"
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
        (["count", "resnet"], "Received 'resnet'"),
        (["count", "mobilenet", "--alpha", "0"], "alpha=0"),
        (["count", "mobilenet", "--alpha", "inf"], "alpha=inf"),
        (["count", "mobilenet", "--alpha", "nan"], "alpha=nan"),
        (["count", "MobileNet 0.5/17"], "resolution=17"),
        (["bench", "mobilenet", "--runtimes", "onnx"], "runtime='onnx'"),
        (["bench", "mobilenet", "--batch", "0"], "batch=0"),
        (["train", "mobilenet", "--epochs", "0"], "epochs=0"),
        (["compare", "vgg16"], "two or more networks"),
        (["count", "mobilenet", "--alpha", "wide"], "'wide'"),
        (["count", "mobilenet", "--resolution", "16"], "resolution=16"),
        (["count", "mobilenet", "--num-classes", "0"], "num_classes=0"),
        (["count", "vgg16", "--alpha", "0.5"], "alpha does not apply to vgg16 (it applies to mobilenet"),
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
        "python -m analysis count: error: alpha must be a finite number greater than 0. Received alpha=-1.0"
    ]


def test_bad_input_is_answered_before_tensorflow_loads():
    # The parser and the variant check run in this process; afterwards neither Keras nor TensorFlow is loaded.
    code = ("import sys; from analysis.cli import main; status = main(['count', 'resnet50']); "
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.stdout.split() == ["2", "False", "False"]
    assert "resnet50" in result.stderr


def test_a_bug_is_exit_1_with_a_hint_and_debug_shows_the_traceback(capsys, monkeypatch):
    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr("analysis.cli.commands.cmd_count", broken)
    status, _, err = _run(capsys, "count", "mobilenet")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "bug" in err and "--debug" in err and "KeyError" in err
    status, _, err = _run(capsys, "count", "mobilenet", "--debug")
    assert status == 1 and "Traceback (most recent call last)" in err and "raise KeyError" in err


def test_a_variant_label_names_a_network(capsys):
    status, out, _ = _run(capsys, "count", "MobileNet 0.25/128", "--format", "json")
    reference = keras.applications.MobileNet(weights=None, alpha=0.25, input_shape=(128, 128, 3))
    assert status == 0 and json.loads(out)["params"] == reference.count_params()


@pytest.mark.slow  # two VGG16s; the other compare tests and test_cost's compare_table ratios stay fast
def test_compare_json_ratios(capsys):
    status, out, _ = _run(capsys, "compare", "vgg16", "mobilenet", "--alpha", "0.25", "--format", "json")
    assert status == 0
    data = json.loads(out)
    vgg, mobile = data["variants"]
    assert vgg["variant"] == "VGG16" and mobile["variant"] == "MobileNet 0.25/224"
    assert data["ratios_to_first"]["MobileNet 0.25/224"]["macs"] == vgg["macs"] / mobile["macs"]
    assert vgg["params"] == keras.applications.VGG16(weights=None).count_params()


def test_compare_takes_more_than_two_networks(capsys):
    status, out, _ = _run(capsys, "compare", "vgg16", "mobilenet", "MobileNet 0.25/128", "--format", "json")
    assert status == 0
    data = json.loads(out)
    assert [v["variant"] for v in data["variants"]] == ["VGG16", "MobileNet 1.0/224", "MobileNet 0.25/128"]
    small = keras.applications.MobileNet(weights=None, alpha=0.25, input_shape=(128, 128, 3))
    assert data["variants"][2]["params"] == small.count_params()


def test_compare_conv_and_shallow_options(capsys):
    status, out, _ = _run(capsys, "compare", "mobilenet", "vgg16", "--conv", "--format", "csv")
    assert status == 0 and "Conv MobileNet 1.0/224" in out
    status, out, _ = _run(capsys, "count", "mobilenet", "--shallow", "--per-layer", "--format", "csv")
    assert status == 0 and "conv_dw_7" not in out and "conv_dw_12" in out


def test_compare_needs_two_models(capsys):
    status, _, err = _run(capsys, "compare", "vgg16", "vgg16")
    assert status == 2 and "different networks" in err


@pytest.mark.slow  # torch and fvcore in a worker; tests/test_crosscheck.py checks the counters fast
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
