"""What a lake URL may be: ``s3://bucket[/prefix]`` with a valid bucket name, or a local path.

The one owner of that rule; the ``--lake`` / ``INGEST_LAKE`` / ``[job] lake`` setting goes
through ``check_lake_url`` when it is loaded, so a typo never reaches a run. A value that
starts like a misspelled S3 URL (``s3:/b``, ``s3//b``, ``s3:b``, ``S3://b``) or names a
bucket S3 would refuse (``s3://Bad_Bucket!``) is refused with the URL it probably meant.

A bare word (``movies-lake``) is a legitimate local directory name, so it is accepted as
one: the run prints the lake's absolute path when it opens it (``ingest.run.checks``), and
warns when such a directory is about to be created, saying the S3 URL it might have meant.
"""

from __future__ import annotations

import re

from ingest.settings.invalid import Invalid, show

EXPECTED = "s3://bucket[/prefix] or a local directory"
# S3's rules for general purpose bucket names: 3 to 63 of a-z 0-9 . -, starting and
# ending with a letter or a digit, no "..", not shaped like an IP address.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
# A start that means S3 whatever came after it: s3: s3/ S3: (any case), but not s3:// itself.
_S3_LIKE = re.compile(r"(?i)s3(:/{0,3}|/{2,})")
# Any other scheme (ftp://, https://): refused by name. What has none is a local path.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def check_lake_url(value: str) -> str:
    """Return ``value`` if it is a usable lake; raise ``Invalid`` (with a did-you-mean) if not."""
    if value.startswith("s3://") and not value.startswith("s3:///"):
        bucket = value.removeprefix("s3://").partition("/")[0]
        _check_bucket(bucket, value)
        return value
    typo = _S3_LIKE.match(value)
    if typo:
        _refuse(value, value[typo.end() :].lstrip("/"))
    scheme = _SCHEME.match(value)
    if scheme:
        raise Invalid(f"must be {EXPECTED}, got {show(value)} (an unknown scheme {scheme.group(1)}://)")
    return value


def bucket_error(bucket: str) -> str | None:
    """Why S3 would refuse ``bucket`` as a bucket name, or None when it is a valid one."""
    if not bucket:
        return "no bucket name"
    if not 3 <= len(bucket) <= 63:
        return f"a bucket name has 3 to 63 characters, {show(bucket)} has {len(bucket)}"
    if not _BUCKET.fullmatch(bucket):
        return "a bucket name holds only a-z, 0-9, '.' and '-', and starts and ends with a letter or a digit"
    if ".." in bucket:
        return "a bucket name has no '..'"
    if _IP.fullmatch(bucket):
        return "a bucket name is not an IP address"
    if bucket.startswith(_RESERVED_PREFIXES) or bucket.endswith(_RESERVED_SUFFIXES):
        return "S3 reserves that prefix or suffix of bucket names"
    return None


def s3_guess(word: str) -> str | None:
    """The S3 URL a bare word may have meant (``movies-lake``: ``s3://movies-lake``), or None."""
    return f"s3://{word}" if "/" not in word and bucket_error(word) is None else None


def _check_bucket(bucket: str, value: str) -> None:
    why = bucket_error(bucket)
    if why is None:
        return
    fixed = _fix_bucket(bucket)
    rest = value.removeprefix("s3://")[len(bucket) :]
    guess = f"s3://{fixed}{rest}" if fixed and fixed != bucket else None
    hint = f": did you mean {guess}?" if guess else ""
    raise Invalid(f"must be {EXPECTED}, got {show(value)} ({why}){hint}")


def _fix_bucket(bucket: str) -> str | None:
    """The nearest valid bucket name: lower case, ``_`` and spaces as ``-``, the rest dropped."""
    name = re.sub(r"[_\s]+", "-", bucket.lower())
    name = re.sub(r"[^a-z0-9.-]", "", name)
    name = re.sub(r"\.{2,}", ".", name).strip(".-")
    return name if bucket_error(name) is None else None


def _refuse(value: str, rest: str) -> None:
    """Refuse a misspelled S3 URL, with the one it probably meant when there is one."""
    bucket, sep, prefix = rest.partition("/")
    fixed = bucket if bucket_error(bucket) is None else _fix_bucket(bucket)
    if fixed:
        raise Invalid(f"must be {EXPECTED}, got {show(value)}: did you mean s3://{fixed}{sep}{prefix}?")
    raise Invalid(f"must be {EXPECTED}, got {show(value)} (a misspelled S3 URL?)")
