"""The command line's argument parser: every subcommand and option, answered before TensorFlow loads."""

import argparse

from analysis import render
from analysis.accuracy.distributed import DEFAULT_RESTARTS, DEFAULT_WORKER_TIMEOUT_S, STRATEGIES
from analysis.cli import commands as commands_
from analysis.speed import runtimes
from analysis.speed.runtimes import PRECISIONS
from nets import NETWORK_NAMES, checks
from nets.errors import BadInput

PROG = "python -m analysis"
DEBUG_FLAG = "--debug"
DESCRIPTION = "VGG16 and MobileNet v1 compared: exact costs, measured latency, taught in notebooks."


class UsageError(BadInput):
    """Bad command-line syntax: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


def _integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, received {text!r}") from None


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, received {text!r}") from None


def _integers(text):
    try:
        return checks.comma_list("value", text, int)
    except BadInput:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, received {text!r}") from None


def _add_variant_options(parser):
    group = parser.add_argument_group("variant options")
    group.add_argument("--alpha", type=_number, help="MobileNet (and keras:MobileNet*) width multiplier (default 1.0)")
    group.add_argument("--resolution", type=_integer,
                       help="input size in pixels (default 224, or the keras.applications builder's)")
    group.add_argument("--num-classes", type=_integer, help="classes (default 1000)")
    group.add_argument("--depth-multiplier", type=_integer, help="MobileNet depthwise multiplier (default 1)")
    group.add_argument("--conv", action="store_const", const=True,
                       help="MobileNet with full 3x3 convolutions (Conv MobileNet)")
    group.add_argument("--shallow", action="store_const", const=True,
                       help="MobileNet without the five 14x14x512 blocks")
    group.add_argument("--unsafe", action="store_const", const=True,
                       help="let a model file hold serialized code (a Lambda layer), which runs: trusted files only")


def network_help():
    return (f"{' or '.join(NETWORK_NAMES)}, a variant label such as 'MobileNet 0.5/160', keras:NAME for a "
            f"keras.applications builder (keras:ResNet50), or a .keras/.h5 model file")


def _network_command(commands, name, help_text, run):
    parser = commands.add_parser(name, help=help_text)
    parser.add_argument("network", help=network_help())
    _add_variant_options(parser)
    parser.set_defaults(run=run)
    return parser


def build_parser():
    """The argument parser of every subcommand; its errors are ``UsageError`` (exit 2)."""
    parser = _Parser(prog=PROG, description=DESCRIPTION,
                     epilog=f"{DEBUG_FLAG} anywhere shows the traceback of an error.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_cost_commands(commands)
    _add_speed_commands(commands)
    _add_train_command(commands)
    _add_report_command(commands)
    return parser


def _add_cost_commands(commands):
    count = _network_command(commands, "count", "parameters, MACs and memory of one network", commands_.cmd_count)
    count.add_argument("--per-layer", action="store_true", help="one row per layer")
    count.add_argument("--crosscheck", action="store_true",
                       help="add fvcore's and the TensorFlow profiler's counts (slower)")
    count.add_argument("--format", choices=render.FORMATS, default="table")

    compare = commands.add_parser("compare", help="two or more networks side by side, with cost ratios")
    compare.add_argument("networks", nargs="+", help=f"two or more: {network_help()}")
    _add_variant_options(compare)
    compare.add_argument("--crosscheck", action="store_true",
                         help="add fvcore's and the TensorFlow profiler's totals (slower)")
    compare.add_argument("--format", choices=render.FORMATS, default="table")
    compare.set_defaults(run=commands_.cmd_compare)



def _add_speed_commands(commands):
    machine = commands.add_parser("machine", help="measured peak GFLOP/s and memory bandwidth")
    machine.add_argument("--format", choices=render.FORMATS, default="table")
    machine.set_defaults(run=commands_.cmd_machine)

    bench = _network_command(commands, "bench", "latency on several runtimes (median of repeats)", commands_.cmd_bench)
    bench.add_argument("--runtimes", default="keras,xla,litert",
                       help=f"comma-separated: {', '.join(runtimes.names())} (default keras,xla,litert)")
    bench.add_argument("--precision", default="fp32",
                       help=f"comma-separated: {', '.join(PRECISIONS)} (default fp32); each runtime runs the "
                            "ones it offers (int8: post-training quantization by the runtime's own tool)")
    bench.add_argument("--batch", type=_integers, default=[1], help="comma-separated batch sizes (default 1)")
    bench.add_argument("--threads", type=_integer, default=None, help="threads (default: all cores)")
    bench.add_argument("--repeats", type=_integer, default=20, help="timed runs per measurement (default 20)")
    bench.add_argument("--format", choices=render.FORMATS, default="table")

    predict = _network_command(commands, "predict", "the latency fit's prediction for a network, with its terms",
                               commands_.cmd_predict)
    predict.add_argument("--runtime", default="litert", help=f"one of {', '.join(runtimes.names())} (default litert)")
    predict.add_argument("--precision", default="fp32", help=f"one of {', '.join(PRECISIONS)} (default fp32)")
    predict.add_argument("--study", default=None, help="a study folder to fit on (default: this machine's study)")
    predict.add_argument("--format", choices=render.FORMATS, default="table")

    _add_profile_command(commands)

    study = commands.add_parser("study", help="measure this machine's study (15 minutes by default)")
    study.add_argument("--out", default=None, help="the study folder (default reports/study; a study of this "
                                                   "machine there is continued)")
    study.add_argument("--budget", type=_number, default=15.0, help="minutes to spend (default 15)")
    study.add_argument("--threads", type=_integer, default=None, help="threads (default: all cores)")
    study.set_defaults(run=commands_.cmd_study)



def _add_profile_command(commands):
    profile = _network_command(commands, "profile", "time of every layer inside the network, from the runtime's "
                               "own profiler, with its cost and roofline bound", commands_.cmd_profile)
    profile.add_argument("--runtime", required=True,
                         help=f"one with a profiler: {', '.join(runtimes.profiled_names())}")
    profile.add_argument("--precision", default="fp32", help=f"one of {', '.join(PRECISIONS)} that the runtime offers "
                                                               "(default fp32)")
    profile.add_argument("--batch", type=_integer, default=1, help="batch size (default 1)")
    profile.add_argument("--threads", type=_integer, default=None, help="threads (default: all cores)")
    profile.add_argument("--repeats", type=_integer, default=20,
                         help="profiled runs, and as many unprofiled ones to compare (default 20)")
    profile.add_argument("--study", default=None, help="the study whose machine profile sets the bounds "
                                                       "(default: this machine's, else the shipped reference)")
    profile.add_argument("--format", choices=render.FORMATS, default="table")


def _add_train_command(commands):
    train = _network_command(commands, "train", "train a variant from scratch and record its accuracy", commands_.cmd_train)
    train.add_argument("--dataset", default="digits", help="digits, folder:PATH or tfds:NAME (default digits)")
    train.add_argument("--image-size", type=_integer, default=32, help="image side (default 32; --resolution wins)")
    train.add_argument("--epochs", type=_integer, default=None, help="most epochs (default: the network's recommended)")
    train.add_argument("--batch-size", type=_integer, default=32)
    train.add_argument("--learning-rate", type=_number, default=None, help="default: the network's recommended")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="shift, turn and zoom the training images each epoch (default: the network's recommended)")
    train.add_argument("--seed", type=_integer, default=0)
    train.add_argument("--devices", type=_integer, default=1,
                       help="data-parallel replicas over logical CPU devices (MirroredStrategy)")
    train.add_argument("--strategy", choices=STRATEGIES, default=None,
                       help="single: one device; mirrored: --devices logical CPU devices; multiworker: "
                            "MultiWorkerMirroredStrategy, the cluster read from TF_CONFIG (run the same command on "
                            "every worker; see docs/training.md). Default: mirrored with --devices > 1, else single")
    train.add_argument("--workers", type=_integer, default=None,
                       help="start N local MultiWorkerMirroredStrategy workers on 127.0.0.1 ports and collect the "
                            "result (the global batch stays --batch-size)")
    train.add_argument("--run-dir", default=None,
                       help="run folder: a checkpoint each epoch, the training log (log.csv) and the result "
                            "(default reports/runs/<variant>_<dataset>_<size>px_seed<seed>)")
    train.add_argument("--resume", nargs="?", const=True, default=False, choices=["auto"],
                       help="continue the run in --run-dir from its last finished epoch (its network, dataset, seed "
                            "and settings must match); '--resume auto': if it has a checkpoint, else start")
    train.add_argument("--worker-timeout", type=_number, default=DEFAULT_WORKER_TIMEOUT_S,
                       help=f"seconds to wait for the other workers, and about the longest to notice a lost one "
                            f"(default {DEFAULT_WORKER_TIMEOUT_S})")
    train.add_argument("--restarts", type=_integer, default=DEFAULT_RESTARTS,
                       help=f"with --workers: restart the workers from the checkpoint this many times after one "
                            f"dies (default {DEFAULT_RESTARTS})")
    train.add_argument("--max-seconds", type=_number, default=None, help="stop after this much training time")
    train.add_argument("--quantize", default="",
                       help="comma-separated precisions (int8, bf16, fp32): convert the trained network to every "
                            "runtime that offers them and measure its test accuracy there")
    train.add_argument("--format", choices=render.FORMATS, default="table")



def _add_report_command(commands):
    headline = commands.add_parser("headline", help="both networks' best latency per configuration, from a study")
    headline.add_argument("--study", action="append", default=[], metavar="DIR",
                          help="a study folder (default: this machine's, else the shipped reference); again for more")
    headline.add_argument("--format", choices=render.FORMATS, default="markdown")
    headline.set_defaults(run=commands_.cmd_headline)

    report = commands.add_parser("report", help="execute the notebooks into a report folder")
    report.add_argument("--quick", action="store_true", help="the shrunken QUICK run (minutes)")
    report.add_argument("--out", default=None, help="output folder (default reports/)")
    report.add_argument("--notebooks", default=None,
                        help="folder of the notebooks (default: the checkout's, or the copies in the package)")
    report.add_argument("--gallery", action="store_true",
                        help="also refresh the README's gallery (docs/gallery/) from the new figures")
    report.add_argument("--gallery-dir", default=None, help="where --gallery writes (default docs/gallery/)")
    report.add_argument("--study", action="append", default=[], metavar="DIR",
                        help="the study the notebooks draw from (default: this machine's, else the shipped "
                             "reference); given again, more machines beside it in the headline table")
    report.set_defaults(run=commands_.cmd_report)
