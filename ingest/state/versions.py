"""The version of each state format, and the steps that upgrade an older one on read.

Every state file's body carries ``"version"``; a reader passes the parsed body through
``upgrade``, which applies this module's steps one version at a time (dlt's state engine
does the same), so a lake written by an older release keeps working and its files are
never rewritten just to be read. A body of a version newer than this code knows is never
guessed at: ``StateVersionError`` (exit 2) names the file and the version.

Versions (a body without ``"version"`` is version 0: written before versions were kept):

    plan ............ 2  a genre's plan.json (1 -> 2: ``append``, the sub-resources fetched:
                         ``keywords`` for movies, none for collections, as version 1 did)
    catalogue_plan .. 2  the catalogue's header (1 -> 2: ``append`` as for a plan)
    run ............. 2  a run record (1 -> 2: what it asked gains ``series``, the TV genres,
                         and ``catalogue_series``)
    cursor .......... 1  0 -> 1: the body gains its version
    removed ......... 1  0 -> 1: the same
    manifest ........ 1  0 -> 1: a manifest without ``history`` gets its one check as the first entry
    oversized ....... 1  a note of a record set apart (written, never read back)
    claim ........... 1  the collections claim of the queue (0 -> 1: the same)
    marker .......... 2  a done-marker's name: 1 had no file count (``-f<files>``), read as
                         "the files its body lists" (``ingest.state.markers``)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingest.errors import StateVersionError

Body = dict[str, Any]
Step = Callable[[Body], Body]


def _versioned(body: Body) -> Body:
    return body


def _manifest_history(body: Body) -> Body:
    if not isinstance(body.get("history"), list):
        body["history"] = [
            {
                "action": body.get("action"),
                "at": body.get("checked_at"),
                "sha256": body.get("sha256"),
                "crc64nvme": body.get("crc64nvme"),
                "bytes": body.get("bytes"),
            }
        ]
    if body.get("action") == "uploaded" and "uploaded_at" not in body:
        body["uploaded_at"], body["uploaded_by"] = body.get("checked_at"), None
    return body


def _append_of_v1(body: Body) -> Body:
    """Before ``[tmdb] append``, movies were fetched with their keywords, collections alone."""
    body.setdefault("append", ["keywords"] if body.get("kind") == "movies" else [])
    return body


def _run_series(body: Body) -> Body:
    asked = body.get("asked")
    if isinstance(asked, dict):
        asked.setdefault("series", [])
        asked.setdefault("catalogue_series", False)
    return body


# For each format, the step from version i to i + 1 at index i.
STEPS: dict[str, tuple[Step, ...]] = {
    "plan": (_versioned, _append_of_v1),
    "catalogue_plan": (_versioned, _append_of_v1),
    "run": (_versioned, _run_series),
    "cursor": (_versioned,),
    "removed": (_versioned,),
    "manifest": (_manifest_history,),
    "marker": (_versioned, _versioned),
    "oversized": (_versioned,),
    "claim": (_versioned,),
}
CURRENT = {name: len(steps) for name, steps in STEPS.items()}


def version_of(body: Body) -> int:
    v = body.get("version", 0)
    return v if isinstance(v, int) and not isinstance(v, bool) else -1


def check(name: str, key: str, version: int) -> None:
    """Refuse a ``name`` file of a version this code does not read."""
    if version > CURRENT[name] or version < 0:
        raise StateVersionError(
            f"{key} is a {name} of format version {version}, newer than this ingest reads "
            f"(up to {CURRENT[name]}): run the release that wrote it, or a newer one"
        )


def upgrade(name: str, key: str, body: Any) -> Body:
    """``body`` (a ``name`` file at ``key``) as the current version reads it."""
    if not isinstance(body, dict):
        raise TypeError("not a JSON object")
    version = version_of(body)
    check(name, key, version)
    for step in STEPS[name][version:]:
        body = step(body)
    body["version"] = CURRENT[name]
    upgraded: Body = body
    return upgraded


def stamp(name: str, body: Body) -> Body:
    """``body`` with the version the writer writes."""
    return {"version": CURRENT[name], **body}
