"""The command line: ``python -m analysis count|compare ...``.

Every subcommand calls the same functions as the notebooks. Bad input ends
with exit status 2 and one line on standard error, never a traceback.
"""

import argparse
import sys

from analysis import render

EXIT_USAGE = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class CommandFailed(Exception):
    """Valid input, but the work failed: printed as one line, exit status 1."""


def _integer(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, received {text!r}") from None
    return value


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, received {text!r}") from None


def _add_model_options(parser):
    group = parser.add_argument_group("model options")
    group.add_argument("--alpha", type=_number, help="MobileNet width multiplier (default 1.0)")
    group.add_argument("--resolution", type=_integer, help="input size in pixels (default 224)")
    group.add_argument("--num-classes", type=_integer, default=1000, help="classes (default 1000)")
    group.add_argument("--depth-multiplier", type=_integer, help="MobileNet depthwise multiplier (default 1)")
    group.add_argument("--conv", action="store_true", help="MobileNet with full 3x3 convolutions (Conv MobileNet)")
    group.add_argument("--shallow", action="store_true", help="MobileNet without the five 14x14x512 blocks")


def _model_options(args, model=None):
    """The variant options given on the command line; for ``compare``, only
    those that apply to ``model`` (MobileNet's multipliers do not apply to VGG16)."""
    options = dict(alpha=args.alpha, resolution=args.resolution, num_classes=args.num_classes,
                   depth_multiplier=args.depth_multiplier, conv=args.conv, shallow=args.shallow)
    if model == "vgg16":
        options.update(alpha=None, depth_multiplier=None, conv=False, shallow=False)
    return options


def _build(model, options):
    from analysis import variants

    return variants.build(model, **options)


def cmd_count(args):
    """Parameters (and, per layer, shapes) of one network."""
    from analysis.cost import MAC_CONVENTION, layer_table, summarize

    table = layer_table(_build(args.model, _model_options(args)))
    totals = summarize(table)
    totals["model"] = args.model
    if args.crosscheck:
        table, checked = _crosschecked(args.model, _model_options(args), table)
        totals.update(checked)
    if args.format == "json":
        payload = dict(totals)
        if args.per_layer:
            payload["layers"] = render.records(table)
        return render.to_json(payload)
    if args.per_layer:
        return render.frame_to_text(table.drop(columns=["supported"]), args.format,
                                    title=None if args.format == "csv" else f"# {MAC_CONVENTION}")
    import pandas as pd

    summary = pd.DataFrame([{k: v for k, v in totals.items() if k != "unsupported"}])
    return render.frame_to_text(summary, args.format)


_CROSSCHECK_COLUMNS = ("fvcore_macs", "tf_conv_flops", "tf_other_flops", "agree")
_CROSSCHECK_TOTALS = ("fvcore_total_macs", "tf_conv_flops", "tf_other_flops", "tf_total_flops", "all_agree")


def _crosschecked(model, options, table):
    """``table`` with the fvcore and TensorFlow-profiler columns, and their totals."""
    from analysis.crosscheck import crosscheck, crosscheck_summary

    checked = crosscheck(model, freeze=False, **options)
    merged = table.merge(checked[["name", *_CROSSCHECK_COLUMNS]], on="name", how="left")
    merged["fvcore_macs"] = merged["fvcore_macs"].astype("Int64")
    merged.attrs = table.attrs
    summary = crosscheck_summary(checked)
    return merged, {key: summary[key] for key in _CROSSCHECK_TOTALS}


def cmd_compare(args):
    """Two networks side by side, with the ratios of their costs."""
    import pandas as pd

    from analysis.cost import MAC_CONVENTION, compare_table, layer_table, summarize
    from analysis.variants import label

    if args.first == args.second:
        raise UsageError(f"python -m analysis compare: error: name two different models. Received {args.first} twice")
    summaries = []
    for model in (args.first, args.second):
        options = _model_options(args, model)
        totals = summarize(_build(model, options))
        totals["model"] = label(model, **options)
        if args.crosscheck:
            totals.update(_crosschecked(model, options, layer_table(_build(model, options)))[1])
        summaries.append(totals)
    table = compare_table(*summaries)
    if args.crosscheck:
        extra = pd.DataFrame([{"quantity": key, summaries[0]["model"]: summaries[0][key],
                               summaries[1]["model"]: summaries[1][key], "ratio": None}
                              for key in _CROSSCHECK_TOTALS])
        table = pd.concat([table, extra], ignore_index=True)
    if args.format == "json":
        return render.to_json({"models": summaries, "ratios": dict(zip(table["quantity"], table["ratio"]))})
    return render.frame_to_text(table, args.format, title=None if args.format == "csv" else f"# {MAC_CONVENTION}")


def cmd_machine(args):
    """This machine's measured peak GFLOP/s and memory bandwidth."""
    from analysis.machine import measure

    profile = measure().to_dict()
    if args.format == "json":
        return render.to_json(profile)
    import pandas as pd

    rows = [{"quantity": k, "value": v} for k, v in profile.items()]
    return render.frame_to_text(pd.DataFrame(rows), args.format)


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, received {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one integer, received {text!r}")
    return values


def cmd_bench(args):
    """Latency of one network on the runtimes asked, per batch size."""
    from analysis import latency

    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    for runtime in runtimes:
        latency.check_runtime(runtime)
    for batch in args.batch:
        if batch < 1:
            raise UsageError(f"python -m analysis bench: error: batch sizes must be at least 1. Received batch={batch}")
    if args.repeats < 1:
        raise UsageError(f"python -m analysis bench: error: repeats must be at least 1. Received repeats={args.repeats}")
    threads = latency.configure_threads(args.threads)
    from analysis.variants import label

    options = _model_options(args)
    models = {label(args.model, **options): _build(args.model, options)}
    try:
        table = latency.benchmark(models, runtimes, args.batch, threads, args.repeats,
                                  progress=args.format != "json")
    except latency.ConversionError as error:
        raise CommandFailed(str(error)) from None
    if args.format == "json":
        return render.to_json({"results": render.records(table)})
    shown = table[["model", "runtime", "batch", "threads", "median_ms", "iqr_ms", "min_ms", "max_ms",
                   "ms_per_image", "images_per_s", "gflops", "unstable", "runtime_version"]]
    return render.frame_to_text(shown.round(3), args.format)


def cmd_train(args):
    """Train a variant from scratch on a dataset; report held-out accuracy and costs."""
    from analysis import training

    if args.devices > 1:  # before TensorFlow starts
        training.configure_devices(args.devices)
    options = {k: v for k, v in _model_options(args).items() if v not in (None, False)}
    options.pop("num_classes", None)  # the dataset's
    dataset = training.load_dataset(args.dataset, image_size=args.resolution or args.image_size)
    result = training.train(args.model, dataset, epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, augment=args.augment, seed=args.seed,
                            max_seconds=args.max_seconds,
                            devices=args.devices, progress=args.format != "json", **options)
    if args.format == "json":
        return render.to_json(result.to_dict())
    import pandas as pd

    return render.frame_to_text(pd.DataFrame([result.to_dict()]).round(4), args.format)


def cmd_report(args):
    """Execute the notebooks and export notebooks, HTML, figures, tables and an index."""
    from analysis.report import ReportError, build_report, update_gallery

    try:
        result = build_report(out_dir=args.out, quick=args.quick)
        gallery = update_gallery(result.out_dir / "figures") if args.gallery else []
    except ReportError as error:
        raise CommandFailed(str(error)) from None
    timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.seconds.items())
    return (f"Report written to {result.index} ({len(result.notebooks)} notebooks, "
            f"{len(result.figures)} figures, {len(result.tables)} tables"
            + (f"; {len(gallery)} gallery figures updated)" if gallery else ")")
            + f"\nNotebooks took {sum(result.seconds.values()):.0f} s: {timings}")


def build_parser():
    parser = _Parser(prog="python -m analysis", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    from analysis.variants import MODEL_NAMES

    count = commands.add_parser("count", help="parameters, MACs and memory of one network")
    count.add_argument("model", choices=MODEL_NAMES)
    _add_model_options(count)
    count.add_argument("--per-layer", action="store_true", help="one row per layer")
    count.add_argument("--crosscheck", action="store_true",
                       help="add fvcore's and the TensorFlow profiler's counts (slower)")
    count.add_argument("--format", choices=render.FORMATS, default="table")
    count.set_defaults(run=cmd_count)

    compare = commands.add_parser("compare", help="two networks side by side, with cost ratios")
    compare.add_argument("first", choices=MODEL_NAMES)
    compare.add_argument("second", choices=MODEL_NAMES)
    _add_model_options(compare)
    compare.add_argument("--crosscheck", action="store_true",
                         help="add fvcore's and the TensorFlow profiler's totals (slower)")
    compare.add_argument("--format", choices=render.FORMATS, default="table")
    compare.set_defaults(run=cmd_compare)

    machine = commands.add_parser("machine", help="measured peak GFLOP/s and memory bandwidth")
    machine.add_argument("--format", choices=render.FORMATS, default="table")
    machine.set_defaults(run=cmd_machine)

    bench = commands.add_parser("bench", help="latency on several runtimes (median of repeats)")
    bench.add_argument("model", choices=MODEL_NAMES)
    _add_model_options(bench)
    bench.add_argument("--runtimes", default="keras,xla,litert",
                       help="comma-separated: keras, xla, litert, torch (default keras,xla,litert)")
    bench.add_argument("--batch", type=_int_list, default=[1], help="comma-separated batch sizes (default 1)")
    bench.add_argument("--threads", type=_integer, default=None, help="threads (default: all cores)")
    bench.add_argument("--repeats", type=_integer, default=20, help="timed runs per measurement (default 20)")
    bench.add_argument("--format", choices=render.FORMATS, default="table")
    bench.set_defaults(run=cmd_bench)

    train = commands.add_parser("train", help="train a variant from scratch and record its accuracy")
    train.add_argument("model", choices=MODEL_NAMES)
    _add_model_options(train)
    train.add_argument("--dataset", default="digits", help="digits, folder:PATH or tfds:NAME (default digits)")
    train.add_argument("--image-size", type=_integer, default=32, help="image side (default 32; --resolution wins)")
    train.add_argument("--epochs", type=_integer, default=None, help="most epochs (default: the model's recommended)")
    train.add_argument("--batch-size", type=_integer, default=32)
    train.add_argument("--learning-rate", type=_number, default=None, help="default: the model's recommended")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="shift, turn and zoom the training images each epoch (default: the model's recommended)")
    train.add_argument("--seed", type=_integer, default=0)
    train.add_argument("--devices", type=_integer, default=1,
                       help="data-parallel replicas over logical CPU devices (MirroredStrategy)")
    train.add_argument("--max-seconds", type=_number, default=None, help="stop after this much training time")
    train.add_argument("--format", choices=render.FORMATS, default="table")
    train.set_defaults(run=cmd_train)

    report = commands.add_parser("report", help="execute the notebooks into a report folder")
    report.add_argument("--quick", action="store_true", help="the shrunken QUICK run (minutes)")
    report.add_argument("--out", default=None, help="output folder (default reports/)")
    report.add_argument("--gallery", action="store_true",
                        help="also refresh the README's gallery (docs/gallery/) from the new figures")
    report.set_defaults(run=cmd_report)
    return parser


def main(argv=None):
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        output = args.run(args)
    except (UsageError, ValueError, FileNotFoundError, CommandFailed) as error:
        # RuntimeUnavailable is a ValueError: a missing runtime package is bad input here.
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if not message.startswith(parser.prog):
            command = getattr(args, "command", "")
            message = f"{parser.prog} {command}: error: {message}".replace("  ", " ")
        print(message, file=sys.stderr)
        return EXIT_FAILED if isinstance(error, CommandFailed) else EXIT_USAGE
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
