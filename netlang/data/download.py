"""Downloads of published data files, kept only when their md5 is the published one.

Mirrors are tried in order. A download cut off midway leaves `NAME.part`, and the next attempt
resumes it with an HTTP Range request (a server that ignores the range sends the whole file
again); a resumed file whose md5 is wrong is fetched once more from the start.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

_TIMEOUT_S = 60
_BLOCK = 1 << 20
_RANGE_NOT_SATISFIABLE = 416  # the .part already holds the whole file


class MissingData(ValueError):
    """A data set that is not in its folder; `hint` says how to get it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def fetch(name: str, md5: str, root: Path, mirrors: Sequence[str], *, source: str) -> Path:
    """Download `name` into `root` from the first of `mirrors` (URL prefixes) that serves it
    with `md5`; `source` names the data source in messages.

    Raises:
        ValueError: no mirror delivered the file with that md5 (the message says why, per mirror).
    """
    root.mkdir(parents=True, exist_ok=True)
    target, partial = root / name, root / (name + ".part")
    failures = []
    for mirror in mirrors:
        try:
            for _ in range(2):  # a second try only when a resumed file turned out wrong
                resumed = _download(mirror + name, partial)
                if verify_md5(partial, md5):
                    return partial.replace(target)
                partial.unlink()
                if not resumed:
                    break
            failures.append(f"{mirror}: md5 mismatch (the file there is not the published one)")
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, cut-offs
            failures.append(f"{mirror}: {_reason(error)}")
    kept = partial.stat().st_size if partial.exists() else 0
    resume = f"; {kept:,} bytes are kept in {partial} and resumed next time" if kept else ""
    raise ValueError(
        f"{source}: could not download {name} ({'; '.join(failures)}){resume}. Offline? Put "
        f"the file (md5 {md5}) in {root} by hand"
    )


def verify_md5(path: Path, md5: str) -> bool:
    """Whether the file's md5 is `md5`."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest() == md5


def _download(url: str, partial: Path) -> bool:
    """Append the rest of `url` to `partial` (or write it whole); whether it resumed."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if have and error.code == _RANGE_NOT_SATISFIABLE:
            return True
        raise
    with response:
        resumed = bool(have) and getattr(response, "status", None) == 206
        with partial.open("ab" if resumed else "wb") as out:
            shutil.copyfileobj(response, out, _BLOCK)
        missing = getattr(response, "length", None)  # http.client reads short cut-offs quietly
    if missing:
        raise http.client.IncompleteRead(b"", missing)
    return resumed


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, http.client.IncompleteRead):
        return f"the connection closed {error.expected:,} bytes before the end of the file"
    return str(error) or type(error).__name__
