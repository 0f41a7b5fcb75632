"""Files an admin uploads into the corpus folder: safe names, checked content, no surprises.

- The name is reduced to a plain file name (no folders, no ``..``, no control or shell
  characters, not hidden), and the target must resolve inside the corpus folder, symlinks
  included, so nothing can be written anywhere else.
- The extension must be one ingestion reads, and the content must match it: a PDF starts
  like one, a DOCX is a zip holding ``word/document.xml``, a text format decodes as text.
- A name or folder whose UTF-8 form is longer than the file system allows (255 bytes per
  component) is refused with a message saying so, never an OS error.
- Files over ``KBCHAT_MAX_FILE_MB`` are refused.
- An existing file is replaced only when the caller says so (after the admin confirmed).
- The file is written to a hidden temporary name and renamed into place, so an ingestion
  never reads half a file.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.corpus_paths import inside_corpus
from ingest.loaders import SUPPORTED_EXTENSIONS, LoadError
from ingest.textio import read_text
from kbchat.audit import audit_for
from kbchat.errors import KbchatError
from kbchat.settings import Settings

MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 255  # of one path component, in UTF-8: the limit of ext4, XFS, APFS, NTFS
_SHOWN_CHARS = 60
_UNSAFE = re.compile(r"[^\w .,()-]")
_TEXT_FORMATS = frozenset({"markdown", "text", "csv", "html"})
_PDF_HEADER_WITHIN = 1024  # PDF readers accept the header anywhere in the first KB


class UploadError(KbchatError):
    """An upload was refused; the message says why and names the file."""


class UploadExistsError(UploadError):
    """A document with this name exists; it is replaced only after confirmation."""

    def __init__(self, source: str) -> None:
        super().__init__(f"{source} already exists: confirm to replace it.")
        self.source = source


def allowed_extensions() -> list[str]:
    """The extensions an upload may have (those ingestion reads), sorted."""
    return sorted(SUPPORTED_EXTENSIONS)


def max_upload_bytes(settings: Settings) -> int:
    """The size cap of one file (``KBCHAT_MAX_FILE_MB``), in bytes."""
    return int(settings.ingest.max_file_mb * 1024 * 1024)


def _clean_part(text: str) -> str:
    """One path component made harmless: NFKC, no controls, no odd characters, not hidden."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE.sub("_", text)
    text = " ".join(text.split())
    return text.strip(" .")


def _shown(text: str) -> str:
    """A name as messages show it: at most `_SHOWN_CHARS` characters."""
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _check_length(part: str, what: str) -> None:
    size = len(part.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise UploadError(
            f"{_shown(part)}: the {what} is {size} bytes long in UTF-8; names may have at most "
            f"{MAX_NAME_BYTES} bytes. Rename it with a shorter name and upload it again."
        )


def safe_filename(name: str) -> str:
    """The uploaded file's name reduced to a safe plain name with a supported extension.

    Only the last component of any path counts (``../../etc/passwd.md`` becomes
    ``passwd.md``); the extension is lower-cased.

    Raises:
        UploadError: no usable name is left, or the extension is not supported.
    """
    last = re.split(r"[/\\]", name)[-1]
    stem, dot, suffix = last.rpartition(".")
    if not dot:
        stem, suffix = last, ""
    extension = f".{suffix.strip().lower()}" if suffix.strip() else ""
    shown = _shown(_clean_part(last) or "(no name)")
    if extension not in SUPPORTED_EXTENSIONS:
        raise UploadError(
            f"{shown}: {extension or 'no extension'} files cannot be ingested "
            f"(allowed: {', '.join(allowed_extensions())})."
        )
    clean = _clean_part(stem)[:MAX_NAME_CHARS].strip(" .")
    if not clean:
        raise UploadError(f"{shown}: the file name has no usable characters.")
    _check_length(clean + extension, "file name")
    return clean + extension


def safe_folder(folder: str) -> str:
    """A folder inside the corpus, as a relative POSIX path ('' for the corpus folder itself).

    Raises:
        UploadError: the folder leaves the corpus (``..``, absolute) or a part is not a plain
            name.
    """
    parts = [p for p in re.split(r"[/\\]", folder.strip()) if p not in ("", ".")]
    for part in parts:
        if part == ".." or _clean_part(part) != part:
            raise UploadError(
                f"Folder {_shown(folder)!r} is not a plain folder inside the document folder: "
                "use names of letters, digits, spaces, dots and dashes, separated by /."
            )
        _check_length(part, "folder name")
    return PurePosixPath(*parts).as_posix() if parts else ""


def check_content(filename: str, data: bytes) -> None:
    """Check that the content is what the extension says.

    Raises:
        UploadError: empty, or the content does not match the format.
    """
    if not data:
        raise UploadError(f"{filename}: the file is empty.")
    fmt = SUPPORTED_EXTENSIONS[PurePosixPath(filename).suffix.lower()]
    if fmt == "pdf":
        if b"%PDF-" not in data[:_PDF_HEADER_WITHIN]:
            raise UploadError(f"{filename}: this is not a PDF file (its content is not PDF).")
    elif fmt == "docx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            names = set()
        if "word/document.xml" not in names:
            raise UploadError(f"{filename}: this is not a Word (.docx) document.")
    elif fmt in _TEXT_FORMATS:
        try:
            read_text(Path(filename), data)
        except LoadError as err:
            raise UploadError(f"{filename}: this is not a text file ({err}).") from err


def _target(settings: Settings, folder: str, filename: str) -> tuple[str, Path]:
    source = PurePosixPath(folder, filename).as_posix() if folder else filename
    path = inside_corpus(settings.paths.corpus_dir, source)
    if path is None:
        raise UploadError(f"{source}: this would be written outside the document folder.")
    return source, path


@dataclass(frozen=True)
class SavedUpload:
    """An upload written into the corpus folder."""

    source: str
    """Path relative to the corpus folder."""
    replaced: bool
    """True when an existing file was replaced."""
    size: int


def save_upload(
    settings: Settings,
    name: str,
    data: bytes,
    *,
    folder: str = "",
    replace: bool = False,
    user: str | None = None,
) -> SavedUpload:
    """Check an uploaded file and write it into the corpus folder (audited).

    It is indexed at the next ingestion.

    Args:
        settings: the settings (corpus folder, size cap, audit log).
        name: the name the browser sent (untrusted).
        data: the content.
        folder: a folder inside the corpus ('' for the top).
        replace: replace a file of the same name (only after the admin confirmed).
        user: who uploaded, for the audit log.

    Raises:
        UploadExistsError: the file exists and ``replace`` is false.
        UploadError: the name, size or content is refused, or the file cannot be written.
    """
    filename = safe_filename(name)
    cap = max_upload_bytes(settings)
    if len(data) > cap:
        raise UploadError(
            f"{filename}: the file is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{settings.ingest.max_file_mb:g} MB (KBCHAT_MAX_FILE_MB)."
        )
    check_content(filename, data)
    source = PurePosixPath(safe_folder(folder), filename).as_posix()
    try:
        source, path = _target(settings, safe_folder(folder), filename)
        existed = path.exists()
        if existed and not path.is_file():
            raise UploadError(f"{source}: a folder of that name exists.")
        if existed and not replace:
            raise UploadExistsError(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as err:
        raise UploadError(f"{_shown(source)}: cannot be written ({err.strerror}).") from err
    audit_for(settings).record(
        "document_changed",
        outcome="ok",
        user=user,
        detail=json.dumps(
            {"action": "replaced" if existed else "uploaded", "source": source, "bytes": len(data)}
        ),
    )
    return SavedUpload(source=source, replaced=existed, size=len(data))
