"""The lake as a local directory: the built-in default (``./datalake``), and the way to try
the pipeline without an AWS account.

Every write goes to a temporary name in the target folder and is renamed into place, so a
crash never leaves a half file under a final name. The SHA-256 a writer records is kept in
a side file among the lake's own records (``StoreMeta``; never beside the data under ``Raw/``).

A writer holds an exclusive ``flock`` on its temporary file until the rename, and the
kernel drops it when the process dies (even by SIGKILL). So the next write of the same
key can tell a dead run's leftover (lock free: deleted) from a live writer's file in
another process (locked: left alone). Temporary files are never listed.

``upload_file`` hashes what it copies and renames only when that is the SHA-256 it was
given: a source appended to mid-copy leaves the key and its recorded hash as they were.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ingest.errors import ConfigError, InputError, LakeError
from ingest.lake import ObjectInfo, Sha256, StoreMeta, UploadTuning, resolve_sha256

_TMP_MARK = ".tmp-"


class LocalLake:
    __slots__ = ("_meta", "_root", "_tuning")

    def __init__(self, root: Path, tuning: UploadTuning, meta: StoreMeta) -> None:
        for folder in (root, *root.absolute().parents):
            if folder.exists():
                if not folder.is_dir():
                    where = "is a file" if folder == root else f"is under {folder}, a file"
                    raise ConfigError(f"lake {root} {where}: point --lake/INGEST_LAKE at a directory")
                break
        self._root = root
        self._tuning = tuning
        self._meta = meta

    @property
    def url(self) -> str:
        """The lake's absolute path: what a person can find it by from anywhere."""
        return str(self._root.absolute())

    @property
    def location(self) -> str:
        return os.path.abspath(self._root)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            # No rerun changes the key: it comes from an input name, which must change.
            raise InputError(
                f"refusing key {key!r}: keys are relative and stay inside the lake; "
                "rename the input it was made from"
            )
        return self._root / key

    def _meta_path(self, key: str) -> Path:
        return self._root / self._meta.checksum_key(key)

    async def stat(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        with contextlib.suppress(OSError):
            # Best effort (the lake may be read-only here): a rerun that finds the object
            # already in place still removes what a killed run left beside it.
            _sweep_leftovers(path)
        try:
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            sha = self._meta_path(key).read_text().strip() or None
        except FileNotFoundError:
            sha = None
        return ObjectInfo(key=key, size=size, sha256=sha)

    async def read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except PermissionError:
            raise ConfigError(
                f"cannot read {path} in the lake: permission denied; fix its permissions "
                "or choose another directory with --lake/INGEST_LAKE"
            ) from None
        except OSError as exc:
            raise LakeError(f"cannot read {path}: {exc.strerror}") from exc

    async def write(self, key: str, data: bytes, *, sha256: str | None = None) -> None:
        await asyncio.to_thread(self._write, key, data, sha256)

    def _write(self, key: str, data: bytes, sha256: str | None) -> None:
        self._atomic(self._path(key), lambda fh: fh.write(data))
        self._record_sha(key, sha256)

    async def create(self, key: str, data: bytes) -> bool:
        return await asyncio.to_thread(self._create, key, data)

    def _create(self, key: str, data: bytes) -> bool:
        created = False

        def link(tmp: Path) -> None:
            nonlocal created
            try:
                # link(2) fails when the name exists, where rename(2) would replace it.
                os.link(tmp, target)
                created = True
            except FileExistsError:
                created = False

        target = self._path(key)
        self._atomic(target, lambda fh: fh.write(data), place=link)
        return created

    async def list(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> builtins.list[str]:
        # List the folder the prefix names (or its parent when it ends mid-name).
        path = self._path(prefix)
        folder = path if prefix.endswith("/") or not prefix else path.parent
        if not folder.is_dir():
            return []
        keys = []
        for path in folder.rglob("*"):
            rel = path.relative_to(self._root).as_posix()
            if path.is_file() and rel.startswith(prefix) and _TMP_MARK not in path.name:
                keys.append(rel)
        return sorted(keys)

    async def upload_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: Sha256,
        on_bytes: Callable[[int], None] | None = None,
        source: tuple[int, int] | None = None,
    ) -> str | None:
        # ``source`` is not needed here: the copy hashes what it copies and compares it with
        # ``sha256`` itself, which catches any change since hashing, whatever its mtime. A
        # directory keeps no content type: the ``.csv`` name says what S3's header would.
        expected = await resolve_sha256(sha256)
        await asyncio.to_thread(self._copy, key, path, expected, on_bytes)
        return None

    def _copy(self, key: str, path: Path, sha256: str, on_bytes: Callable[[int], None] | None) -> None:
        def copy(dst: BinaryIO) -> None:
            digest = hashlib.sha256()
            try:
                src = path.open("rb")
            except OSError as exc:
                raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
            with src:
                while chunk := src.read(self._tuning.part_size):
                    dst.write(chunk)
                    digest.update(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
            if digest.hexdigest() != sha256:
                # Raised before the rename: the key keeps what it held, matching its hash.
                raise InputError.changed(path)

        self._atomic(self._path(key), copy)
        self._record_sha(key, sha256)

    def _record_sha(self, key: str, sha256: str | None) -> None:
        meta = self._meta_path(key)
        if sha256:
            self._atomic(meta, lambda fh: fh.write(sha256.encode()))
        else:
            meta.unlink(missing_ok=True)

    def _atomic(
        self,
        target: Path,
        fill: Callable[[BinaryIO], object],
        place: Callable[[Path], None] | None = None,
    ) -> None:
        """Fill a locked temporary file, then ``place`` it under ``target`` (default: rename
        over whatever is there)."""
        self._make_folder(target.parent)
        try:
            _sweep_leftovers(target)
            with _locked_temp(target) as (tmp, fh):
                try:
                    fill(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                    if place is None:
                        os.replace(tmp, target)
                    else:
                        place(tmp)
                finally:
                    tmp.unlink(missing_ok=True)
        except PermissionError as exc:
            raise self._unwritable(target.parent, exc) from None
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.ENOTDIR, errno.EISDIR):
                raise self._unwritable(target.parent, exc) from None
            if exc.errno == errno.ENOSPC:
                free = shutil.disk_usage(target.parent).free
                raise LakeError(f"no space left for {target} ({free} bytes free); free some space") from exc
            raise LakeError(f"cannot write {target}: {exc.strerror}") from exc

    def _make_folder(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # No rerun fixes these: the lake must point somewhere that can be written.
            raise self._unwritable(folder, exc) from None

    def _unwritable(self, folder: Path, exc: OSError) -> ConfigError:
        return ConfigError(
            f"the lake directory {folder} cannot be created or written ({exc.strerror}): "
            f"check {self._root} or choose another directory with --lake/INGEST_LAKE"
        )


def _temp_prefix(target: Path) -> str:
    return f".{target.name}{_TMP_MARK}"


@contextlib.contextmanager
def _locked_temp(target: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """A new temporary file beside ``target``, open for writing and locked while in use."""
    while True:
        tmp = target.with_name(f"{_temp_prefix(target)}{uuid.uuid4().hex[:8]}")
        fh = tmp.open("wb")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except BaseException:
            fh.close()
            raise
        # A sweeper may have taken the file between its creation and our lock; then it
        # is gone from the folder and we start over with a new name.
        if _is_still_there(tmp, fh):
            break
        fh.close()
    with fh:
        yield tmp, fh


def _is_still_there(path: Path, fh: BinaryIO) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return False


def _sweep_leftovers(target: Path) -> None:
    """Delete temporary files of ``target`` whose writer is gone (killed mid-write)."""
    prefix = _temp_prefix(target)
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix)]
    except FileNotFoundError:
        return
    for name in names:
        leftover = target.parent / name
        try:
            with leftover.open("rb") as fh:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer in another process
                if _is_still_there(leftover, fh):
                    leftover.unlink()
        except FileNotFoundError:
            continue
