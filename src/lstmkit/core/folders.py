"""Output folders written safely: nothing the user owns is replaced without ``force``, two
processes never write one folder at a time, and a crash never loses the last good copy.

- ``claim_output`` checks an ``--out`` before anything is written: not a file, not a folder
  holding something else (unless ``force``), not the input the command reads, writable.
- ``exclusive`` holds an advisory lock (``flock``) for as long as a command writes; a second
  process gets a one-line error naming the folder and the holder's pid.
- ``atomic_dir`` writes a folder under a temporary name and swaps it into place:
  ``.NAME.tmp-PID`` while written, ``.NAME.new-PID`` once complete, then the old copy moves
  to ``.NAME.old-PID`` and the new one to ``NAME``. ``recover_dir`` (run before every write
  and every read for a resume) finishes a swap a crash interrupted, from the newest complete
  copy, and removes what dead processes left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import LstmkitError

try:
    import fcntl
except ImportError:  # Windows has no flock: no locking there
    fcntl = None

LOCK = ".lstmkit.lock"


def alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (None or a bad pid: no)."""
    if pid is None or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_of(path: Path) -> int | None:
    suffix = path.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else None


def recover_dir(target: Path) -> None:
    """After a crash inside ``atomic_dir``: put the newest complete copy at ``target`` (a
    finished ``.new``, even over the copy it was to replace; else, if ``target`` is
    missing, the previous one moved to ``.old``); then remove the leftovers of processes
    that are gone."""
    target = Path(target)
    parent, name = target.parent, target.name
    if not parent.is_dir():
        return
    found = {kind: sorted(parent.glob(f".{name}.{kind}-*"), key=lambda p: p.stat().st_mtime)
             for kind in ("new", "old", "tmp")}
    gone = {kind: [p for p in paths if not alive(_pid_of(p))] for kind, paths in found.items()}
    if gone["new"]:
        if target.exists():
            aside = parent / f".{name}.old-replaced"
            remove(aside)
            os.replace(target, aside)
            gone["old"].append(aside)
        os.replace(gone["new"].pop(), target)
    elif not target.exists() and gone["old"]:
        os.replace(gone["old"].pop(), target)
    for path in (p for paths in gone.values() for p in paths):
        remove(path)


def remove(path: Path, strict: bool = False) -> None:
    """Delete ``path``, a folder (with what it holds) or a file; gone already is fine.
    ``strict``: a failure raises (else leftovers are left for the next recovery)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=not strict)
    elif strict:
        path.unlink()
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``target`` (see the module
    docstring). On an error the temporary folder is removed and ``target`` is untouched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)
    pid = os.getpid()
    tmp, new, old = (target.parent / f".{target.name}.{kind}-{pid}" for kind in ("tmp", "new", "old"))
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        for file in tmp.iterdir():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, new)  # complete: recover_dir may use it from here on
        if target.exists():
            os.replace(target, old)
        os.replace(new, target)
        remove(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def claim_output(out: Path, force: bool = False, sources: Iterable[Path] = (),
                 option: str = "--out") -> None:
    """Refuse an output folder ``out`` that would destroy something: the input a command
    reads (``sources``; never, even with ``force``), a file, or a folder with anything in it
    (unless ``force``: then a file there is removed, a folder's contents left to the
    command to replace); or one that cannot be written."""
    out = Path(out)
    where = out.resolve()
    for source in sources:
        read = Path(source).resolve()
        if where == read or where in read.parents or read in where.parents:
            raise LstmkitError(f"{option} '{out}' would overwrite what this command reads "
                               f"('{source}'); choose another folder")
    if out.exists() and not out.is_dir():
        if not force:
            raise LstmkitError(f"{option} '{out}' is a file, not a folder (--force replaces it)")
        out.unlink()
    if out.is_dir() and not force and any(p.name != LOCK for p in out.iterdir()):
        raise LstmkitError(f"{option} '{out}' is not empty; choose a new folder (--force "
                           "replaces what is there)")
    _writable(where, f"{option} '{out}'")


def _writable(where: Path, shown: str) -> None:
    """Refuse ``where`` if its nearest existing ancestor is a file or not writable."""
    ancestor = where
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise LstmkitError(f"{shown}: '{ancestor}' is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise LstmkitError(f"{shown}: cannot write in '{ancestor}' (permission denied)")


def claim_file(path: Path, force: bool = False, sources: Iterable[Path] = (),
               option: str = "--out") -> None:
    """Refuse an output file that is an input of the command (never, even with ``force``),
    an existing file (unless ``force``), a folder, or in a place that cannot be written."""
    path = Path(path)
    for source in sources:
        if source is not None and Path(source).exists() and path.exists() \
                and os.path.samefile(path, source):
            raise LstmkitError(f"{option} '{path}' is what this command reads; choose another file")
    if path.is_dir():
        raise LstmkitError(f"{option} '{path}' is a folder, not a file")
    if path.exists() and not force:
        raise LstmkitError(f"{option} '{path}' exists (--force replaces it)")
    _writable(path.resolve().parent, f"{option} '{path}'")


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename
    (a reader never sees half a file), on an error it is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(lock: Path, what: str, remove: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (made if missing) for the ``with`` body;
    if another process holds it, raise naming ``what`` and that process. ``remove``: delete
    the lock file after (for locks kept beside a folder rather than inside it)."""
    if fcntl is None:
        yield
        return
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise LstmkitError(f"{what} is in use by another lstmkit process (pid {holder}); "
                               "wait for it to finish or choose another folder") from None
        try:  # the file may have been removed by its last holder meanwhile: lock the new one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
        os.close(fd)
