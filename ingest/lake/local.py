"""The lake as a local directory: the built-in default (``./datalake``), and the way to try
the pipeline without an AWS account.

Every write goes to a temporary name in the target folder and is renamed into place, so a
crash never leaves a half file under a final name. The SHA-256 a writer records is kept in
a side file under ``_ingest/objects/`` (never beside the data under ``Raw/``).
"""

from __future__ import annotations

import asyncio
import builtins
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from ingest.errors import ConfigError, LakeError
from ingest.lake import ObjectInfo, UploadTuning
from ingest.lake.keys import STATE_ROOT

_TMP_MARK = ".tmp-"


class LocalLake:
    __slots__ = ("_root", "_tuning")

    def __init__(self, root: Path, tuning: UploadTuning) -> None:
        if root.exists() and not root.is_dir():
            raise ConfigError(f"lake {root} is a file: point --lake/INGEST_LAKE at a directory")
        self._root = root
        self._tuning = tuning

    @property
    def url(self) -> str:
        return str(self._root)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise LakeError(f"refusing key {key!r}: keys are relative and stay inside the lake")
        return self._root / key

    def _meta_path(self, key: str) -> Path:
        return self._root / STATE_ROOT / "objects" / f"{key}.sha256"

    async def stat(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> ObjectInfo | None:
        try:
            size = self._path(key).stat().st_size
        except FileNotFoundError:
            return None
        try:
            sha = self._meta_path(key).read_text().strip() or None
        except FileNotFoundError:
            sha = None
        return ObjectInfo(key=key, size=size, sha256=sha)

    async def read(self, key: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            return None

    async def write(self, key: str, data: bytes, *, sha256: str | None = None) -> None:
        await asyncio.to_thread(self._write, key, data, sha256)

    def _write(self, key: str, data: bytes, sha256: str | None) -> None:
        self._atomic(self._path(key), lambda fh: fh.write(data))
        self._record_sha(key, sha256)

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
        sha256: str,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        await asyncio.to_thread(self._copy, key, path, sha256, on_bytes)

    def _copy(self, key: str, path: Path, sha256: str, on_bytes: Callable[[int], None] | None) -> None:
        def copy(dst: object) -> None:
            with path.open("rb") as src:
                while chunk := src.read(self._tuning.part_size):
                    dst.write(chunk)  # type: ignore[attr-defined]
                    if on_bytes:
                        on_bytes(len(chunk))

        self._atomic(self._path(key), copy)
        self._record_sha(key, sha256)

    def _record_sha(self, key: str, sha256: str | None) -> None:
        meta = self._meta_path(key)
        if sha256:
            self._atomic(meta, lambda fh: fh.write(sha256.encode()))
        else:
            meta.unlink(missing_ok=True)

    @staticmethod
    def _atomic(target: Path, fill: Callable[..., object]) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}{_TMP_MARK}{uuid.uuid4().hex[:8]}")
            try:
                with tmp.open("wb") as fh:
                    fill(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        except PermissionError as exc:
            raise ConfigError(
                f"cannot write to the lake at {target.parent}: permission denied; "
                "choose another directory with --lake"
            ) from exc
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC
                free = shutil.disk_usage(target.parent).free if target.parent.exists() else 0
                raise LakeError(f"no space left for {target} ({free} bytes free)") from exc
            raise LakeError(f"cannot write {target}: {exc.strerror}") from exc
