"""Uploads: the request body streamed to disk under a size limit, then checked, then kept.

The multipart body is parsed as it arrives (python-multipart's streaming parser on
``request.stream()``), and the file's bytes go straight to a temporary file in the session's
``tmp`` folder, counted as they come: an upload over the limit is stopped there (413
``upload.too_large``), whatever its Content-Length claimed, and memory stays flat whatever
the file's size. Then the file is checked cheaply (:func:`mixlab.audio.io.probe`: header,
length, format) or, for a ZIP, with the engine's hostile-archive checks before anything is
unpacked. Only when everything passed are the files renamed into ``originals/``; on any
failure the temporary folder is removed and nothing of the upload is left.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from mixlab.audio.io import probe
from mixlab.audio.stems import extract_zip, stem_file_name
from mixlab.errors import InvalidAudioError, MixlabError, UnsupportedFormatError
from mixlab.service.db import new_id, now_iso
from mixlab.service.errors import ApiError, not_found

# Multipart framing around the file (boundaries, part headers) is small; a Content-Length
# beyond the limit by more than this is refused before reading anything.
_FRAMING_SLACK_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_NAME_CHARS = 120


@dataclass(frozen=True)
class ReceivedFile:
    """An uploaded file on disk: its name as the user knows it, where it is, its size."""

    name: str
    path: Path
    size_bytes: int


class _TooLarge(Exception):
    pass


def too_large(name: str | None, limit: int) -> ApiError:
    what = f"{name}: is" if name else "This upload is"
    return ApiError(413, "upload.too_large",
                    f"{what} larger than the {_fmt_bytes(limit)} upload limit. Upload a shorter file, export it "
                    "as FLAC (about half the size of WAV), or split a ZIP into several.",
                    file=name, max_upload_bytes=limit)


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


#: What browsers escape in a multipart file name (the HTML standard's form-data encoding):
#: only these three, so a name that really holds "%41" keeps it.
_FORM_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}


def browser_file_name(name: str) -> str:
    """A multipart file name as the user named the file: ``Vox %22Lead%22.wav`` (as Chromium
    and Firefox send ``Vox "Lead".wav``) is ``Vox "Lead".wav``."""
    for escaped, char in _FORM_ESCAPES.items():
        name = name.replace(escaped, char).replace(escaped.lower(), char)
    return name


async def receive_file(request: Request, folder: Path, *, limit: int, field: str = "file",
                       stop: Callable[[], bool] | None = None) -> ReceivedFile:
    """Stream the multipart field ``field`` of ``request`` into ``folder``; see the module
    docstring. The caller owns ``folder`` and removes it on failure. ``stop()`` is asked
    between chunks: true (the session is being deleted) ends the upload with 404."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(400, "upload.bad_request",
                       "The upload must be a multipart form with one field 'file'. Upload the file from the page.")
    declared = request.headers.get("content-length")
    # Known too large: read only up to the file's part headers, to name it in the message.
    refuse = bool(declared and declared.isdigit() and int(declared) > limit + _FRAMING_SLACK_BYTES)

    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "out": None, "size": 0, "name": None,
                             "in_file": False, "files": 0}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        state["in_file"] = name == field and filename is not None
        if state["in_file"]:
            state["files"] += 1
            if state["files"] > 1:
                raise ApiError(400, "upload.bad_request", "Send one file per upload request.")
            shown = browser_file_name(filename.decode("utf-8", "replace"))
            shown = shown.replace("\\", "/").rsplit("/", 1)[-1] or "upload"
            state["name"] = shown
            if refuse:
                raise _TooLarge()
            ext = os.path.splitext(shown)[1].lower()[:10]
            state["path"] = folder / f"upload{ext if ext.isascii() else ''}"
            state["out"] = open(state["path"], "xb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if not state["in_file"]:
            return
        state["size"] += end - start
        if state["size"] > limit:
            raise _TooLarge()
        state["out"].write(data[start:end])

    def on_part_end() -> None:
        if state["in_file"] and state["out"] is not None:
            state["out"].close()
        state["in_file"] = False
        state["headers"] = {}

    parser = MultipartParser(boundary, callbacks={  # type: ignore[arg-type]
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        fed = 0
        async for chunk in request.stream():
            if stop is not None and stop():
                raise not_found("This session")
            fed += len(chunk)
            parser.write(chunk)
            if refuse and fed > _FRAMING_SLACK_BYTES:
                raise _TooLarge()  # the file's part headers did not come first: stop reading anyway
        parser.finalize()
    except _TooLarge:
        raise too_large(state["name"], limit) from None
    except MixlabError:
        raise
    except Exception as exc:  # a malformed body, or the client went away
        raise ApiError(400, "upload.bad_request",
                       f"{state['name'] or 'The upload'}: the upload was cut off or malformed ({exc}). "
                       "Try the upload again.") from None
    finally:
        if state["out"] is not None and not state["out"].closed:
            state["out"].close()
    if state["name"] is None:
        raise ApiError(400, "upload.bad_request", "The upload has no file. Choose a file and upload it again.")
    return ReceivedFile(name=state["name"], path=state["path"], size_bytes=state["size"])


# ---------------------------------------------------------------------------------------------
# checking and keeping


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks, waiting in the temporary folder to be kept."""

    source: str  # the name the user knows ("Drums/Kick.wav" inside a ZIP)
    file_name: str  # the clean base name ("Kick.wav")
    path: Path
    channels: int
    sample_rate: int
    duration_s: float
    size_bytes: int


def is_zip(received: ReceivedFile) -> bool:
    with open(received.path, "rb") as fh:
        head = fh.read(4)
    return head == _ZIP_MAGIC or received.name.lower().endswith(".zip")


def check_upload(received: ReceivedFile, work: Path, *, allow_zip: bool, max_stems: int,
                 max_total_bytes: int) -> tuple[list[CheckedFile], list[dict[str, str]]]:
    """Check an upload (blocking: call in a worker thread): an audio file is probed; a ZIP
    passes the engine's archive checks, is unpacked into ``work`` and each file is probed.
    Any bad file refuses the whole upload, with the engine's message naming it."""
    if allow_zip and is_zip(received):
        unpack = work / "unzipped"
        unpack.mkdir()
        files, ignored = extract_zip(received.path, unpack, name=received.name, max_stems=max_stems,
                                     max_total_bytes=max_total_bytes)
        checked = [_probe_one(source, path) for source, path in files]
        return checked, [{"file": s, "why": why} for s, why in ignored]
    if is_zip(received):
        raise UnsupportedFormatError(f"{received.name}: a ZIP archive cannot be used here. Upload one audio file "
                                     "(WAV, AIFF, FLAC, MP3 or OGG).", code="upload.zip_not_allowed",
                                     file=received.name)
    return [_probe_one(received.name, received.path)], []


def _probe_one(source: str, path: Path) -> CheckedFile:
    file_name, skip = stem_file_name(source)
    if skip is not None:
        raise UnsupportedFormatError(f"{source}: {skip}. Upload WAV, AIFF, FLAC, MP3 or OGG files.",
                                     code="upload.not_audio", file=source)
    info = probe(path, name=source)
    return CheckedFile(source=source, file_name=file_name, path=path, channels=info.num_channels,
                       sample_rate=info.sample_rate, duration_s=round(info.duration_s, 3),
                       size_bytes=path.stat().st_size)


def unique_file_name(file_name: str, taken: set[str]) -> str:
    """``file_name``, or ``"Kick (2).wav"`` if a track is already called "Kick" (ignoring
    case, as :func:`~mixlab.audio.stems.open_stems` compares names): a kept file's name
    minus its extension is its track name and the plan's ``track:<name>`` section."""
    stem, ext = os.path.splitext(file_name)
    stem = stem[:_MAX_NAME_CHARS].strip() or "track"
    name, k = stem, 1
    while name.casefold() in taken:
        k += 1
        name = f"{stem} ({k})"
    return name + ext


def keep_files(services: Any, owner: str, sid: str, checked: list[CheckedFile], *, replace: bool,
               kind: str) -> list[dict[str, Any]]:
    """Move checked files into ``originals/`` under unique names and record them as tracks.
    ``replace`` (a master session's mix) removes the tracks there were first."""
    store, storage = services.store, services.storage
    originals = storage.folder(owner, sid, "originals")
    with services.upload_lock:
        existing = store.tracks(owner, sid)
        if replace:
            for t in existing:
                remove_track_files(storage, owner, sid, t)
            with store.transaction() as db:
                db.execute("DELETE FROM tracks WHERE session_id = ? AND owner = ?", (sid, owner))
                db.execute("DELETE FROM files WHERE session_id = ? AND owner = ? AND kind = 'original'", (sid, owner))
            existing = []
        taken = {os.path.splitext(t["file"])[0].casefold() for t in existing}
        if len(existing) + len(checked) > services.settings.max_stems:
            raise InvalidAudioError(
                f"A session takes at most {services.settings.max_stems} tracks; this upload would make "
                f"{len(existing) + len(checked)}. Remove tracks you do not need, or bounce related tracks together.",
                code="stems.too_many", max_stems=services.settings.max_stems)
        rows: list[dict[str, Any]] = []
        kept: list[Path] = []
        try:
            _record(store, storage, owner, sid, checked, taken, kind, originals, rows, kept)
        except BaseException:
            for path in kept:  # the rows were rolled back: the files go too
                storage.remove(path)
            raise
    return rows


def _record(store: Any, storage: Any, owner: str, sid: str, checked: list[CheckedFile], taken: set[str], kind: str,
            originals: Path, rows: list[dict[str, Any]], kept: list[Path]) -> None:
    with store.transaction() as db:
        seq = store.next_track_seq(db, sid)
        for k, f in enumerate(checked):
            file_name = unique_file_name(f.file_name, taken)
            taken.add(os.path.splitext(file_name)[0].casefold())
            tid = new_id("t")
            row = {"id": tid, "session_id": sid, "owner": owner, "name": os.path.splitext(file_name)[0],
                   "file": file_name, "channels": f.channels, "sample_rate": f.sample_rate,
                   "duration_s": f.duration_s, "size_bytes": f.size_bytes, "created_at": now_iso(),
                   "seq": seq + k}
            store.insert("tracks", row, db=db)
            store.insert("files", {"id": new_id("f"), "session_id": sid, "owner": owner, "kind": "original",
                                   "key": f"originals/{file_name}", "name": f.source, "size_bytes": f.size_bytes,
                                   "track_id": tid, "created_at": now_iso()}, db=db)
            # Inside the transaction: if a rename fails, no row claims a file that is not there.
            storage.commit(f.path, originals / file_name)
            kept.append(originals / file_name)
            rows.append(row)


def remove_track_files(storage: Any, owner: str, sid: str, track: dict[str, Any]) -> None:
    storage.remove(storage.folder(owner, sid, "originals") / track["file"])
    storage.remove(storage.folder(owner, sid, "preview") / f"{track['id']}.flac")
    storage.remove(storage.folder(owner, sid, "peaks") / f"{track['id']}.json")


def sweep_orphans(services: Any) -> int:
    """Remove originals that no track row claims (a crash between storing a file and recording
    it); returns how many. Run on start, before the worker."""
    removed = 0
    for session in services.store.query("SELECT id, owner FROM sessions"):
        owner, sid = session["owner"], session["id"]
        folder = services.storage.session_dir(owner, sid) / "originals"
        if not folder.is_dir():
            continue
        claimed = {t["file"] for t in services.store.tracks(owner, sid)}
        for path in folder.iterdir():
            if path.name not in claimed:
                services.storage.remove(path)
                removed += 1
    return removed


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


__all__ = ["CheckedFile", "ReceivedFile", "browser_file_name", "check_upload", "discard", "keep_files", "receive_file",
           "remove_track_files", "sweep_orphans", "too_large", "unique_file_name"]
