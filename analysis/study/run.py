"""Measure a study on this machine within a time budget, continuing where an earlier run stopped.

``PLAN`` lists the parts in the order they run, most needed first. A whole
part has one cost estimate (seconds on 2 cores with nothing cached:
docs/measurements.md) and starts only if it fits in the time left. A sized
part is measured item by item (networks), most needed first: it takes as
many as the time left allows, at least its first, and records the rest as
left out; a later run measures it again, with its conversions cached, to
take more. A part that does not fit is recorded as left out, and why. A
progress bar shows the minutes spent and left.
"""

import time
from dataclasses import dataclass
from typing import Callable, Optional

from tqdm.auto import tqdm

from analysis.speed.harness import configure_threads
from analysis.study import parts
from analysis.study.folder import start_or_continue
from nets import checks

DEFAULT_BUDGET_MINUTES = 15.0


@dataclass(frozen=True)
class Step:
    """One part of the plan: its name, its cost estimate (s, or a function of the context), the function that measures it and,
    for a sized part, ``items(context)``: its items in order, each (name, estimate s) with the
    cache as it stands; ``measure(context, chosen)`` then measures the items named in ``chosen``."""

    name: str
    estimate_s: object
    measure: Callable
    items: Optional[Callable] = None

    def estimate(self, context):
        """Seconds this part is expected to take (``estimate_s``, or ``estimate_s(context)`` where
        it depends on the cache)."""
        return self.estimate_s(context) if callable(self.estimate_s) else self.estimate_s


PLAN = (
    Step("machine_profile", 60, parts.machine_profile),
    Step("deployment_latency", parts.deployment_seconds, parts.deployment_latency),
    Step("batch_sweep", 90, parts.batch_sweep),
    Step("quantized_accuracy", 150, parts.quantized_accuracy, items=parts.quantized_items),
    Step("latency_study", 180, parts.latency_fit, items=parts.latency_items),
    Step("layer_profiles", 60, parts.layer_profiles, items=parts.profile_items),
    Step("training_sweep", 900, parts.training_sweep),
)


def check_budget(minutes):
    """``minutes`` as a float, if it is a finite number greater than 0."""
    return checks.positive_number("budget", minutes)


def choose_items(items, seconds):
    """(chosen, left out): the longest head of ``items`` ((name, estimate s) pairs) whose estimates
    add up to at most ``seconds``, and the names of the rest."""
    chosen, total = [], 0.0
    for name, estimate in items:
        if total + estimate > seconds:
            break
        chosen.append(name)
        total += estimate
    return chosen, [name for name, _ in items[len(chosen):]]


def run_study(out, budget_minutes=DEFAULT_BUDGET_MINUTES, command="python -m analysis study", threads=None,
              progress=True, started=None):
    """Measure the parts of ``PLAN`` that are not done yet (or were done in part) into the study at
    ``out``, within ``budget_minutes`` counted from ``started`` (a ``time.monotonic()``; default:
    now); return the ``StudyFolder``."""
    start = time.monotonic() if started is None else started
    budget_s = 60.0 * check_budget(budget_minutes)
    folder = start_or_continue(out, command, budget_minutes)
    context = parts.StudyContext(folder, configure_threads(threads), progress=False)
    if "machine_profile" in folder.done:
        context.profile = folder.read("machine_profile").attrs["profile"]
    bar = tqdm(total=round(budget_s / 60, 1), desc="study", unit="min", disable=not progress,
               bar_format="{desc}: {bar} {n:.1f}/{total:.1f} min{postfix}")
    for step in PLAN:
        if step.name in folder.done and not folder.partial(step.name):
            continue
        left = budget_s - (time.monotonic() - start)
        bar.set_postfix_str(f"{step.name}; {left / 60:.1f} min left")
        _run_step(folder, step, context, left, budget_minutes)
        bar.n = min(bar.total, round((time.monotonic() - start) / 60, 1))
        bar.refresh()
    bar.close()
    return folder


def _run_step(folder, step, context, left, budget_minutes):
    """Measure ``step`` if it fits in ``left`` seconds (a sized one as far as it fits), else record why not."""
    why = f"{max(left, 0) / 60:.1f} min of the {budget_minutes:g}-min budget left"
    if step.items is None:
        estimate = step.estimate(context)
        if estimate > left:
            folder.leave_out(step.name, f"about {estimate / 60:.1f} min needed, {why}")
            return
        _measure(folder, step, context)
        return
    items = step.items(context)
    chosen, skipped = choose_items(items, left)
    earlier = len(folder.items(step.name)) if step.name in folder.done else 0
    if not chosen or len(chosen) <= earlier:
        if step.name not in folder.done:
            folder.leave_out(step.name, f"about {items[0][1] / 60:.1f} min needed for its first item, {why}")
        return
    _measure(folder, step, context, chosen, skipped, why)


def _measure(folder, step, context, chosen=None, skipped=(), why=""):
    """Run ``step`` (on the items ``chosen``) and write each result it returns (atomically), the
    step's name last; record the items left out."""
    started = time.monotonic()
    measured = step.measure(context) if chosen is None else step.measure(context, chosen)
    details = {**measured.pop("details", {}), "seconds": round(time.monotonic() - started, 1)}
    if chosen is not None:
        details.update(items=list(chosen), items_left_out=list(skipped))
    for name, frame in sorted(measured.items(), key=lambda item: item[0] == step.name):
        folder.write(name, frame, **details)
    folder.about.get("left_out", {}).pop(step.name, None)
    if chosen is not None:
        folder.set_items(step.name, chosen, skipped)
    if skipped:
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        folder.leave_out(step.name, f"in part: {len(skipped)} of {len(chosen) + len(skipped)} items did not fit "
                                    f"({why}): {', '.join(skipped[:3])}{more}")
    folder.save()
