"""Writes that are never seen half-done: a temporary file in the same folder, then a rename.

Results, tables, caches and checkpoints are written through these, so that
an interrupted write leaves either the old file or the new one, never part
of one (``os.replace`` is atomic within a file system), and two writers of
one file do not interleave their bytes. ``file_lock`` keeps two writers out of
one file or folder at once; ``writable_folder`` checks that a folder named by
the user can be written, before any work.
"""

import contextlib
import errno
import fcntl
import io
import os
import shutil
import tempfile
from pathlib import Path

from nets.errors import BadInput, Unavailable


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


def writable_folder(path, name, flag):
    """Create the folder ``path`` if needed and make sure that this process can write it; a file
    or an unwritable folder is ``BadInput`` naming the argument (``flag``, ``name``) and the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{flag} must be a folder, but it is a file. Received {name}={str(path)!r}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # a file of its own: several processes check one folder at once
            pass
    except OSError as error:
        raise BadInput(f"{flag} is not a writable folder ({error.strerror or error}). "
                       f"Received {name}={str(path)!r}") from None
    return path


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


class Busy(Unavailable):
    """A folder or file that another process is writing (its lock is held)."""


@contextlib.contextmanager
def file_lock(path, wait=False, what=None, holder=None):
    """Hold an exclusive lock on ``path`` for a block: a lock file (created if needed, and
    left in place; it holds the holder's pid) or a folder (locked as it is, nothing written).

    ``wait``: block until the lock is free (for short critical sections such as
    appending a row to a table); otherwise a held lock raises ``Busy`` at once,
    naming ``what`` and the holder's pid. ``holder``: the pid of a process whose
    hold of the lock counts as this process's own (the launcher of a training
    worker holds its run folder for it). The lock goes with the process: a
    killed holder frees it.
    """
    path = Path(path)
    folder = path.is_dir()
    if not folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY if folder else os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            held_by = "" if folder else os.pread(fd, 32, 0).decode(errors="replace").strip()
            if not held_by or holder is None or held_by != str(holder):
                raise Busy(f"{what or path} is in use by another run (pid {held_by or 'unknown'}); wait for it "
                           "to finish, or name another folder") from None
        else:
            if not folder:  # say who holds it
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
