"""Writes that are never seen half-done: a temporary file in the same folder, then a rename.

Results, tables, caches and checkpoints are written through these, so that
an interrupted write leaves either the old file or the new one, never part
of one (``os.replace`` is atomic within a file system), and two writers of
one file do not interleave their bytes.
"""

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically, creating its folder; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.chmod(partial, 0o666 & ~_umask())  # mkstemp makes it private; the file is an ordinary one
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        _remove_if_present(partial)
        raise
    return path


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return write_bytes(path, text.encode("utf8"))


def write_csv(frame, path, **to_csv):
    """Write the DataFrame ``frame`` as CSV (no index unless asked) atomically; return the path."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=to_csv.pop("index", False), **to_csv)
    return write_text(path, buffer.getvalue())


@contextlib.contextmanager
def directory(path):
    """Fill a folder that appears at ``path`` whole or not at all.

    Yields a temporary folder beside ``path``; when the block ends without
    an error it is renamed to ``path`` (a rename is atomic within a file
    system). If another writer finished ``path`` first, its folder is kept
    and this one discarded: both wrote the same thing. On an error, nothing
    is left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    os.chmod(partial, 0o777 & ~_umask())
    try:
        yield partial
        try:
            os.rename(partial, path)
        except OSError:
            if not path.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_if_present(path):
    """Remove ``path`` if it exists (clean-up of a failed write)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
