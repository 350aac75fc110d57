"""The command line: ``python -m analysis count|compare|machine|bench|predict|profile|study|train|report|headline ...``.

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

import sys
import time

# When this command started: a study's budget counts from here, start-up included.
STARTED = time.monotonic()

from analysis.accuracy.settings import Checkpointing, Placement, TrainingRequest, TrainingSettings
from analysis.cli.parser import DEBUG_FLAG, PROG, UsageError, build_parser
from analysis.speed import runtimes
from analysis.variants import Variant
from nets import checks, errors

EXIT_OK = 0
VARIANT_OPTIONS = ("alpha", "resolution", "num_classes", "depth_multiplier", "conv", "shallow", "unsafe")


def variant_of(args, network, only_applicable=False):
    """The ``Variant`` that ``network`` and the variant options of ``args`` name."""
    return Variant.from_options(network, {k: getattr(args, k) for k in VARIANT_OPTIONS},
                                only_applicable=only_applicable)


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
    if args.command == "profile":
        _check_profile(args)
    if args.command in ("report", "headline"):
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


def _check_profile(args):
    """``args.config`` of ``profile``: a runtime with a profiler, at a precision it offers; batch,
    repeats and threads positive; ``args.study`` opened where named."""
    args.config = runtimes.configuration(args.runtime, args.precision)
    runtimes.check_installed([args.config])[0].record.check_profiler()
    args.batch = checks.positive_int("batch", args.batch)
    args.repeats = checks.positive_int("repeats", args.repeats)
    if args.threads is not None:
        checks.positive_int("threads", args.threads)
    if args.study is not None:
        from analysis.study.folder import open_study

        args.study = open_study(args.study)


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
        args.command_line = " ".join([PROG, *argv])
        output = args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG} {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (every error is one line; nets.errors says which status)
        return errors.report(error, f"{PROG} {command or ''}".strip(), debug, debug_flag=DEBUG_FLAG)
    print(output)
    return EXIT_OK
