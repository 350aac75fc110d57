"""The command line: ``python -m analysis count|compare|machine|bench|predict|study|train|report ...``.

Every subcommand calls the same functions as the notebooks. A network is
named as ``vgg16`` or ``mobilenet`` with options (``--alpha 0.5``), by a
variant label (``"MobileNet 0.5/160"``), as any keras.applications builder
(``keras:ResNet50``, random weights) or as a saved model file (``.keras``,
or an ``.h5`` holding a whole model; loaded in safe mode unless ``--unsafe``).

Errors follow ``nets.errors``: bad input exits 2, failed work and an
environment that cannot do it exit 1, each with one line; anything else is a
bug: one line that says so, exit 1, and ``--debug`` shows the traceback. This module and what it imports before a
subcommand runs load neither Keras nor TensorFlow, so bad arguments are
answered at once; each subcommand imports the modules it needs.
"""

import argparse
import sys

from analysis import render
from analysis.accuracy.distributed import DEFAULT_RESTARTS, DEFAULT_WORKER_TIMEOUT_S, STRATEGIES
from analysis.accuracy.settings import Checkpointing, Placement, TrainingRequest, TrainingSettings
from analysis.speed import runtimes
from analysis.speed.runtimes import PRECISIONS
from analysis.variants import Variant
from nets import NETWORK_NAMES, checks, errors
from nets.errors import BadInput

EXIT_OK = 0
PROG = "python -m analysis"
DEBUG_FLAG = "--debug"
VARIANT_OPTIONS = ("alpha", "resolution", "num_classes", "depth_multiplier", "conv", "shallow", "unsafe")


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


def _network_help():
    return (f"{' or '.join(NETWORK_NAMES)}, a variant label such as 'MobileNet 0.5/160', keras:NAME for a "
            f"keras.applications builder (keras:ResNet50), or a .keras/.h5 model file")


def variant_of(args, network, only_applicable=False):
    """The ``Variant`` that ``network`` and the variant options of ``args`` name."""
    return Variant.from_options(network, {k: getattr(args, k) for k in VARIANT_OPTIONS},
                                only_applicable=only_applicable)


def cmd_count(args):
    """Parameters, MACs and memory (and, per layer, shapes) of one network."""
    from analysis.cost import MAC_CONVENTION, layer_table, summarize

    table = layer_table(args.variant.build())
    totals = {"variant": args.variant.label, **summarize(table)}
    totals.pop("model")  # the Keras model's name; the variant names the network
    if args.crosscheck:
        table, checked = _crosschecked(args.variant, table)
        totals.update(checked)
    if args.format == "json":
        return render.to_json({**totals, **({"layers": render.records(table)} if args.per_layer else {})})
    if args.per_layer:
        return render.frame_to_text(table.drop(columns=["supported"]), args.format,
                                    title=None if args.format == "csv" else f"# {MAC_CONVENTION}")
    import pandas as pd

    summary = pd.DataFrame([{k: v for k, v in totals.items() if k != "unsupported"}])
    return render.frame_to_text(summary, args.format)


_CROSSCHECK_COLUMNS = ("fvcore_macs", "tf_conv_flops", "tf_other_flops", "agree")
_CROSSCHECK_TOTALS = ("fvcore_total_macs", "tf_conv_flops", "tf_other_flops", "tf_total_flops", "all_agree")


def _crosschecked(variant, table):
    """``table`` with the fvcore and TensorFlow-profiler columns, and their totals."""
    from analysis.cost.crosscheck import crosscheck, crosscheck_summary

    checked = crosscheck(variant, freeze=False)
    merged = table.merge(checked[["name", *_CROSSCHECK_COLUMNS]], on="name", how="left")
    merged["fvcore_macs"] = merged["fvcore_macs"].astype("Int64")
    merged.attrs = table.attrs
    summary = crosscheck_summary(checked)
    return merged, {key: summary[key] for key in _CROSSCHECK_TOTALS}


def cmd_compare(args):
    """Two or more networks side by side, with the ratios of their costs to the first."""
    import pandas as pd

    from analysis.cost import MAC_CONVENTION, compare_table, layer_table, summarize

    summaries = []
    for variant in args.variants:
        table = layer_table(variant.build())
        totals = {**summarize(table), "model": variant.label}
        if args.crosscheck:
            totals.update(_crosschecked(variant, table)[1])
        summaries.append(totals)
    tables = [compare_table(summaries[0], other) for other in summaries[1:]]
    table = tables[0].drop(columns=["ratio"])
    for other, pair in zip(summaries[1:], tables):
        table[other["model"]] = pair[other["model"]]
        table[f"{summaries[0]['model']} / {other['model']}"] = pair["ratio"]
    if args.crosscheck:
        extra = pd.DataFrame([{"quantity": key, **{s["model"]: s[key] for s in summaries}}
                              for key in _CROSSCHECK_TOTALS])
        table = pd.concat([table, extra], ignore_index=True)
    if args.format == "json":
        ratios = {s["model"]: dict(zip(pair["quantity"], pair["ratio"])) for s, pair in zip(summaries[1:], tables)}
        return render.to_json({"variants": [{"variant": s.pop("model"), **s} for s in summaries],
                               "ratios_to_first": ratios})
    return render.frame_to_text(table, args.format, title=None if args.format == "csv" else f"# {MAC_CONVENTION}")


def cmd_machine(args):
    """This machine's measured peaks (fp32 and bf16 GFLOP/s, int8 GOP/s) and memory bandwidth."""
    import pandas as pd

    from analysis.speed.machine import measure

    profile = measure().to_dict()
    if args.format == "json":
        return render.to_json(profile)
    rows = [{"quantity": f"{k}.{inner}" if isinstance(v, dict) else k, "value": value}
            for k, v in profile.items() for inner, value in (v.items() if isinstance(v, dict) else [(None, v)])]
    return render.frame_to_text(pd.DataFrame(rows), args.format)


def cmd_bench(args):
    """Latency of one network on the configurations asked, per batch size."""
    from analysis.speed import harness, latency

    threads = harness.configure_threads(args.threads)
    table = latency.benchmark([args.variant], args.configs, args.batch, threads, latency.Timing(repeats=args.repeats),
                              progress=args.format != "json")
    if args.format == "json":
        return render.to_json({"results": render.records(table)})
    shown = table[["variant", "runtime", "precision", "batch", "threads", "median_ms", "iqr_ms", "min_ms",
                   "max_ms", "ms_per_image", "images_per_s", "gflops", "unstable", "runtime_version", "note"]]
    return render.frame_to_text(shown.round(3), args.format)


def cmd_predict(args):
    """The latency fit's prediction for one network on one configuration, with its terms."""
    from analysis.speed.predict import predict

    prediction = predict(args.variant, args.config, args.study)
    if args.format == "json":
        return render.to_json(prediction.to_dict())
    title = (f"# {prediction.variant} on {args.config.label}, batch 1: predicted "
             f"{prediction.predicted_ms:.2f} ms (roofline bound {prediction.bound_ms:.2f} ms); "
             f"{prediction.fit_source}")
    return render.frame_to_text(prediction.table().round(4), args.format,
                                title=None if args.format == "csv" else title)


def cmd_study(args):
    """Measure this machine's study into a folder, within a time budget (continuing one stopped)."""
    from analysis.study.run import run_study

    command = " ".join([PROG, "study", *args.argv_rest])
    folder = run_study(args.out, args.budget, command, args.threads, progress=True)
    left = folder.about.get("left_out", {})
    return (f"Study of {folder.describe()} in {folder.path}: {len(folder.done)} results "
            f"({', '.join(folder.done)})"
            + "".join(f"\nleft out: {name}: {why}" for name, why in left.items()))


def cmd_train(args):
    """Train a variant from scratch on a dataset (or resume it); report held-out accuracy and costs."""
    from analysis.accuracy import training

    if args.request.placement.devices > 1:  # before TensorFlow starts
        training.configure_devices(args.request.placement.devices)
    result = training.run_request(args.request, progress=args.format != "json")
    if args.format == "json":
        return render.to_json(result.to_dict())
    import pandas as pd

    row = result.to_dict()
    text = render.frame_to_text(pd.DataFrame([{k: v for k, v in row.items() if k != "quantized"}]).round(4),
                                args.format)
    if not result.quantized:
        return text
    converted = pd.DataFrame(result.quantized)
    converted["drop_points"] = 100 * (result.accuracy - converted["accuracy"].astype("float64"))
    return text + "\n\n" + render.frame_to_text(converted.round(4), args.format)


def cmd_report(args):
    """Execute the notebooks on a study and export notebooks, HTML, figures, tables and an index."""
    from analysis.report.build import build_report, update_gallery

    studies = [study.path for study in args.study]
    result = build_report(out_dir=args.out, quick=args.quick, notebooks_dir=args.notebooks,
                          study=studies[0] if studies else None, compare=studies[1:])
    gallery = update_gallery(result.out_dir / "figures", args.gallery_dir) if args.gallery else []
    timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.seconds.items())
    return (f"Report written to {result.index} ({len(result.notebooks)} notebooks, "
            f"{len(result.figures)} figures, {len(result.tables)} tables"
            + (f"; {len(gallery)} gallery figures updated)" if gallery else ")")
            + f"\nNotebooks took {sum(result.seconds.values()):.0f} s: {timings}")


def _network_command(commands, name, help_text, run):
    parser = commands.add_parser(name, help=help_text)
    parser.add_argument("network", help=_network_help())
    _add_variant_options(parser)
    parser.set_defaults(run=run)
    return parser


def build_parser():
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0],
                     epilog=f"{DEBUG_FLAG} anywhere shows the traceback of an error.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    count = _network_command(commands, "count", "parameters, MACs and memory of one network", cmd_count)
    count.add_argument("--per-layer", action="store_true", help="one row per layer")
    count.add_argument("--crosscheck", action="store_true",
                       help="add fvcore's and the TensorFlow profiler's counts (slower)")
    count.add_argument("--format", choices=render.FORMATS, default="table")

    compare = commands.add_parser("compare", help="two or more networks side by side, with cost ratios")
    compare.add_argument("networks", nargs="+", help=f"two or more: {_network_help()}")
    _add_variant_options(compare)
    compare.add_argument("--crosscheck", action="store_true",
                         help="add fvcore's and the TensorFlow profiler's totals (slower)")
    compare.add_argument("--format", choices=render.FORMATS, default="table")
    compare.set_defaults(run=cmd_compare)

    machine = commands.add_parser("machine", help="measured peak GFLOP/s and memory bandwidth")
    machine.add_argument("--format", choices=render.FORMATS, default="table")
    machine.set_defaults(run=cmd_machine)

    bench = _network_command(commands, "bench", "latency on several runtimes (median of repeats)", cmd_bench)
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
                               cmd_predict)
    predict.add_argument("--runtime", default="litert", help=f"one of {', '.join(runtimes.names())} (default litert)")
    predict.add_argument("--precision", default="fp32", help=f"one of {', '.join(PRECISIONS)} (default fp32)")
    predict.add_argument("--study", default=None, help="a study folder to fit on (default: this machine's study)")
    predict.add_argument("--format", choices=render.FORMATS, default="table")

    study = commands.add_parser("study", help="measure this machine's study (15 minutes by default)")
    study.add_argument("--out", default=None, help="the study folder (default reports/study; a study of this "
                                                   "machine there is continued)")
    study.add_argument("--budget", type=_number, default=15.0, help="minutes to spend (default 15)")
    study.add_argument("--threads", type=_integer, default=None, help="threads (default: all cores)")
    study.set_defaults(run=cmd_study)

    train = _network_command(commands, "train", "train a variant from scratch and record its accuracy", cmd_train)
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
    report.set_defaults(run=cmd_report)
    return parser


def check_arguments(args):
    """Every argument checked, and networks made ``Variant`` values, before any work starts."""
    if getattr(args, "network", None) is not None:
        args.variant = variant_of(args, args.network)
    if args.command == "compare":
        if len(args.networks) < 2:
            raise UsageError(f"{PROG} compare: error: name two or more networks. Received {args.networks}")
        args.variants = [variant_of(args, n, only_applicable=True) for n in args.networks]
        if len(set(args.variants)) < len(args.variants):
            raise UsageError(f"{PROG} compare: error: name different networks. "
                             f"Received {[v.label for v in args.variants]}")
    if args.command == "bench":
        args.configs = runtimes.check_installed(runtimes.configurations(
            checks.comma_list("runtimes", args.runtimes), checks.comma_list("precision", args.precision)))
        args.batch = [checks.positive_int("batch", b) for b in args.batch]
        args.repeats = checks.positive_int("repeats", args.repeats)
        if args.threads is not None:
            checks.positive_int("threads", args.threads)
    if args.command == "predict":
        args.config = runtimes.check_installed([runtimes.configuration(args.runtime, args.precision)])[0]
        if args.study is not None:
            from analysis.study.folder import open_study

            args.study = open_study(args.study)
    if args.command == "report":
        from analysis.study.folder import open_study

        args.study = [open_study(path) for path in args.study]
    if args.command == "study":
        from analysis.study import folder, run

        run.check_budget(args.budget)
        args.out = args.out or folder.DEFAULT_DIR
        folder.check_out(args.out)
        if args.threads is not None:
            checks.positive_int("threads", args.threads)
    if args.command == "train":
        args.quantize = checks.comma_list("quantize", args.quantize) if args.quantize else []
        if args.quantize:
            runtimes.check_installed(runtimes.deployment_configurations(args.quantize))
        _check_train_run(args)
    return args


def _check_train_run(args):
    """``args.request``: the ``TrainingRequest`` of ``train``, every argument checked before
    TensorFlow loads (settings, strategy, TF_CONFIG, the global batch, the run folder: the one
    named, else the run's default folder)."""
    settings = TrainingSettings(image_size=args.resolution or args.image_size, epochs=args.epochs,
                                batch_size=args.batch_size, learning_rate=args.learning_rate, augment=args.augment,
                                seed=args.seed, max_seconds=args.max_seconds)
    placement = Placement(devices=args.devices, strategy=args.strategy, workers=args.workers,
                          worker_timeout=args.worker_timeout, restarts=args.restarts)
    args.request = TrainingRequest.checked(args.variant, args.dataset, settings, placement,
                                           Checkpointing(args.run_dir, args.resume, default_folder=True), args.quantize)


def main(argv=None):
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = check_arguments(build_parser().parse_args(argv))
        args.argv_rest = argv[1:]
        output = args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG} {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (every error is one line; nets.errors says which status)
        return errors.report(error, f"{PROG} {command or ''}".strip(), debug, debug_flag=DEBUG_FLAG)
    print(output)
    return EXIT_OK
