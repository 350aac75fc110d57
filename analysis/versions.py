"""Installed package versions, for result rows, provenance and cache keys: one lookup."""

import importlib.metadata


def installed_version(distribution):
    """``(name, version)`` of ``distribution`` as installed, trying its ``-cpu`` build and the
    name without ``-cpu`` too (``tensorflow-cpu`` is TensorFlow here), or ``(distribution, None)``."""
    names = (distribution, f"{distribution}-cpu", distribution.replace("-cpu", ""))
    for name in dict.fromkeys(names):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return distribution, None
