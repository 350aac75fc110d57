"""A study folder: one machine's measurements, with one provenance.

``study.json`` holds the machine's ``Fingerprint``, the date the study
started, the package versions, the command, the budget, the parts done and
the parts left out (with why), and the items (networks) of each part
measured in items, with those that did not fit. Each part is a result of ``analysis.results``
(a CSV and its JSON) written atomically when the part finishes, so a study
stopped at any moment holds only whole parts, and continues where it
stopped. A folder measured on another machine is never added to.
"""

import json
from pathlib import Path

from analysis import atomic, paths
from analysis.results import provenance, register, results
from analysis.speed.fingerprint import Fingerprint, this_machine
from nets.errors import BadInput, MissingFile

STUDY_FILE = "study.json"
DEFAULT_DIR = paths.REPORTS_DIR / "study"
REFERENCE_DIR = paths.DATA_DIR / "study"


def is_study(path):
    """True where ``path`` is a folder holding a ``study.json``."""
    return (Path(path) / STUDY_FILE).is_file()


class StudyFolder:
    """The study at ``path``; ``about`` is its ``study.json`` as a dict."""

    def __init__(self, path, about, command=None):
        self.path = Path(path)
        self.about = about
        self.command = command or about.get("command")  # the command measuring into it now

    @property
    def fingerprint(self):
        return Fingerprint.from_dict(self.about.get("fingerprint"))

    @property
    def done(self):
        """The names of the parts finished, in the order they finished."""
        return list(self.about.get("done", []))

    def label(self):
        """A short name for figure titles: the CPU's model name, its cores and the study's date."""
        fingerprint = self.fingerprint
        machine = f"{fingerprint.model_name}, {fingerprint.cores} cores" if fingerprint else "unknown machine"
        return f"{machine}, {self.about.get('date', '?')[:10]}"

    def describe(self):
        """One line: the machine and the date, as every figure drawn from the study names them."""
        machine = self.fingerprint.describe() if self.fingerprint else self.about.get("cpu", "unknown machine")
        return f"{machine}, study of {self.about.get('date', '?')}"

    def read(self, name):
        """The part ``name`` as a DataFrame (its provenance in ``.attrs``, the study's under ``study``)."""
        if name not in self.done:
            raise MissingFile(f"The study at {self.path} holds no part {name!r}. It holds: "
                              f"{', '.join(self.done) or 'none'}; measure it with: python -m analysis study "
                              f"--out {self.path}")
        frame = results(name, self.path)
        frame.attrs["study"] = self.describe()
        return frame

    def write(self, name, frame, **details):
        """Write the part ``name`` (atomically) and mark it done."""
        about = {**provenance(self.command), "fingerprint": self.about["fingerprint"], **details}
        register(name, frame, about, self.path)
        self.about["done"] = [n for n in self.done if n != name] + [name]
        self.save()

    def leave_out(self, name, why):
        """Record that the part ``name`` was left out, and why."""
        self.about.setdefault("left_out", {})[name] = why
        self.save()

    def items(self, name):
        """The items (networks) that the sized part ``name`` measured."""
        return list(self.about.get("items", {}).get(name, []))

    def partial(self, name):
        """The items of the part ``name`` that did not fit in its run (empty where it is whole)."""
        return list(self.about.get("partial", {}).get(name, []))

    def set_items(self, name, measured, left_out):
        """Record the items a sized part measured and those it left out."""
        self.about.setdefault("items", {})[name] = list(measured)
        self.about.setdefault("partial", {})[name] = list(left_out)
        self.save()

    def set_peaks(self, peaks):
        """Record the measured peaks in the fingerprint."""
        self.about["fingerprint"]["peaks"] = {k: v for k, v in peaks.items()}
        self.save()

    def save(self):
        atomic.write_text(self.path / STUDY_FILE, json.dumps(self.about, indent=1) + "\n")


def open_study(path):
    """The study at ``path``.

    Raises:
        BadInput: ``path`` does not exist, or is not a study (no ``study.json``).
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise MissingFile(f"No study folder at {str(path)!r}. Received study={str(path)!r}")
    if not is_study(path):
        raise BadInput(f"{str(path)!r} is not a study (it has no {STUDY_FILE}; make one with "
                       f"python -m analysis study --out {path}). Received study={str(path)!r}")
    return StudyFolder(path, json.loads((path / STUDY_FILE).read_text(encoding="utf8")))


def check_out(path):
    """The study at ``path`` if this machine measured it, or None where ``path`` is new or empty.

    Raises:
        BadInput: ``path`` is a file, a folder that is not a study and not empty, or a study of
            another machine (the message names both machines).
    """
    path = Path(path)
    if is_study(path):
        study = open_study(path)
        here = this_machine()
        if not here.same_machine(study.fingerprint):
            theirs = study.fingerprint.describe() if study.fingerprint else "a machine it does not name"
            raise BadInput(f"The study at {str(path)!r} was measured on {theirs}; this machine is {here.describe()}. "
                           f"Name another folder with --out. Received out={str(path)!r}")
        return study
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BadInput(f"--out must be a new or empty folder, or a study of this machine to continue. "
                       f"Received out={str(path)!r}")
    return None


def start_or_continue(path, command, budget_minutes):
    """The study at ``path`` to measure into: the one there if this machine measured it, else a new one
    (``check_out`` says which paths are refused)."""
    study = check_out(path)
    if study is not None:
        study.command = command
        return study
    about = {**provenance(command), "fingerprint": this_machine().to_dict(), "budget_minutes": budget_minutes,
             "done": [], "left_out": {}}
    study = StudyFolder(Path(path), about)
    study.save()
    return study


def this_machines_study(given=None):
    """(study, which): the study ``given`` (a folder), else the local study (``DEFAULT_DIR``) where
    this machine measured it, else the shipped reference where this machine measured that; which
    is "given", "local" or "reference". None for the study where there is none of this machine.

    Raises:
        BadInput: ``given`` does not exist or is not a study.
    """
    if given is not None:
        return open_study(given), "given"
    here = this_machine()
    for path, which in ((DEFAULT_DIR, "local"), (REFERENCE_DIR, "reference")):
        if is_study(path) and here.same_machine(open_study(path).fingerprint):
            return open_study(path), which
    return None, None


def report_study(given=None):
    """The study a report or notebook draws from: the one ``given`` (a folder), else the local study
    where this machine measured it, else the shipped reference; printed by the notebooks."""
    study, _ = this_machines_study(given)
    return study if study is not None else open_study(REFERENCE_DIR)
