"""Measure a study on this machine within a time budget, continuing where an earlier run stopped.

``PLAN`` lists the parts in the order they run, each with what it costs on a
2-core machine with nothing cached (seconds, measured: docs/measurements.md).
A part starts only if its estimate fits in the time left, else the study
records it as left out, and why; a part that has run already is kept. A
progress bar shows the minutes spent and left.
"""

import time
from dataclasses import dataclass
from typing import Callable

from tqdm.auto import tqdm

from analysis.speed.harness import configure_threads
from analysis.study import parts
from analysis.study.folder import start_or_continue
from nets import checks

DEFAULT_BUDGET_MINUTES = 15.0


@dataclass(frozen=True)
class Step:
    """One part of the plan: its name, its cost estimate (s) and the function that measures it."""

    name: str
    estimate_s: float
    measure: Callable


PLAN = (
    Step("machine_profile", 60, parts.machine_profile),
    Step("deployment_latency", 630, parts.deployment_latency),
    Step("latency_study", 720, parts.latency_fit),
    Step("quantized_accuracy", 900, parts.quantized_accuracy),
    Step("batch_sweep", 240, parts.batch_sweep),
    Step("training_sweep", 900, parts.training_sweep),
)


def check_budget(minutes):
    """``minutes`` as a float, if it is a finite number greater than 0."""
    return checks.positive_number("budget", minutes)


def run_study(out, budget_minutes=DEFAULT_BUDGET_MINUTES, command="python -m analysis study", threads=None,
              progress=True):
    """Measure the parts of ``PLAN`` that are not done yet into the study at ``out``, within
    ``budget_minutes``; return the ``StudyFolder``."""
    budget_s = 60.0 * check_budget(budget_minutes)
    folder = start_or_continue(out, command, budget_minutes)
    context = parts.StudyContext(folder, configure_threads(threads), progress=False)
    if "machine_profile" in folder.done:
        context.profile = folder.read("machine_profile").attrs["profile"]
    start = time.monotonic()
    bar = tqdm(total=round(budget_s / 60, 1), desc="study", unit="min", disable=not progress,
               bar_format="{desc}: {bar} {n:.1f}/{total:.1f} min{postfix}")
    for step in PLAN:
        if step.name in folder.done:
            continue
        left = budget_s - (time.monotonic() - start)
        if step.estimate_s > left:
            folder.leave_out(step.name, f"about {step.estimate_s / 60:.1f} min needed, {max(left, 0) / 60:.1f} "
                                        f"min of the {budget_minutes:g}-min budget left")
            continue
        bar.set_postfix_str(f"{step.name}; {left / 60:.1f} min left")
        _measure(folder, step, context)
        bar.n = min(bar.total, round((time.monotonic() - start) / 60, 1))
        bar.refresh()
    bar.close()
    return folder


def _measure(folder, step, context):
    """Run ``step`` and write each result it returns (atomically), the step's name last."""
    started = time.monotonic()
    measured = step.measure(context)
    details = {**measured.pop("details", {}), "seconds": round(time.monotonic() - started, 1)}
    for name, frame in sorted(measured.items(), key=lambda item: item[0] == step.name):
        folder.write(name, frame, **details)
    folder.about.get("left_out", {}).pop(step.name, None)
    folder.save()
