"""The subcommands: each calls the same functions as the notebooks and returns the text it prints.

Each imports the modules it needs when it runs, so that the parser answers bad arguments before
TensorFlow loads.
"""

from analysis import render


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
            for k, v in profile.items() if k != "memory_levels"
            for inner, value in (v.items() if isinstance(v, dict) else [(None, v)])]
    rows += [{"quantity": f"memory_levels.{level['name']}.{key}", "value": level[key]}
             for level in profile["memory_levels"] for key in ("capacity_bytes", "gbs")]
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


def cmd_profile(args):
    """The time of every layer inside the network, from the runtime's own profiler, with its cost and bound."""
    from analysis.speed import harness
    from analysis.speed.conversions import ConversionError
    from analysis.speed.profile import profile_network, machine_of_study
    from nets.errors import BadInput

    threads = harness.configure_threads(args.threads)
    machine = machine_of_study(args.study.path if args.study is not None else None)
    try:
        table, _ = profile_network(args.variant, args.config, batch=args.batch, threads=threads, runs=args.repeats,
                                   machine=machine)
    except ConversionError as error:
        raise BadInput(f"{error} (received network={args.network!r})") from error
    totals = {k: v for k, v in table.attrs.items() if k != "profile_seconds"}
    if args.format == "json":
        return render.to_json({**totals, "layers": render.records(table)})
    shown = table.copy()
    if args.format != "csv":
        shown["nodes"] = [_abbreviated(names) for names in shown["nodes"]]
    return render.frame_to_text(shown.round(4), args.format, title=None if args.format == "csv" else _profile_title(totals))


def _abbreviated(names, limit=3):
    """At most ``limit`` of the `` + ``-joined node ``names``, and how many more."""
    parts = names.split(" + ") if names else []
    return " + ".join(parts[:limit]) + (f" + {len(parts) - limit} more" if len(parts) > limit else "")


def _percent(fraction):
    return "?" if fraction is None else f"{fraction:.0%}"


def _profile_title(t):
    unit = "GOP/s" if t["precision"] == "int8" else "GFLOP/s"
    return (f"# {t['variant']} on {t['runtime']} {t['precision']} ({t['runtime_version']}), batch {t['batch']}, "
            f"{t['threads']} threads, {t['runs']} runs: the layers' nodes add up to {t['layers_ms']:.3f} ms, "
            f"{t['coverage']:.0%} of the unprofiled median {t['median_ms']:.3f} ms (coverage; within each profiled run "
            f"{_percent(t['run_coverage'])}); profiled median "
            f"{t['profiled_median_ms']:.3f} ms (overhead x{t['overhead']:.2f}); {t['unattributed_nodes']} of "
            f"{t['nodes']} nodes unattributed\n# bounds: {t['machine']}. MACs: one multiply-add; achieved_gflops: "
            f"2 x MACs / ms, in {unit}; bound_fraction: bound_ms / ms; ms, MACs, bytes and bounds per batch")


def cmd_study(args):
    """Measure this machine's study into a folder, within a time budget (continuing one stopped)."""
    from analysis.cli import STARTED
    from analysis.study.run import run_study

    folder = run_study(args.out, args.budget, args.command_line, args.threads, progress=True, started=STARTED)
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


def cmd_headline(args):
    """The headline table of the studies given (default: the report's study)."""
    from analysis.report.headline import headline_table

    table = headline_table([study.path for study in args.study] or None)
    if args.format == "json":
        return render.to_json({"headline": render.records(table)})
    return render.frame_to_text(table, args.format)
