"""Checks on a GGUF file before llama.cpp sees it, and a reason when llama.cpp refuses one.

llama.cpp reports a failed load as a bare "Failed to load model from file"; reading the
GGUF header ourselves turns that into a reason a user can act on (a partial download, a
Git LFS pointer, an old GGML file, an architecture this llama.cpp does not know).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kbchat.errors import ModelError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
_MIN_SIZE = 24  # magic, version, tensor count, key/value count
_MAX_COUNT = 1 << 20  # sanity bound for tensor and key counts of a damaged header
_MAX_STRING = 1 << 26

# GGUF value types: struct format of the fixed-size ones.
_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i",
    6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_STRING, _ARRAY = 8, 9


class GgufFormatError(ValueError):
    """The header of a GGUF file cannot be read."""


@dataclass(frozen=True)
class GgufInfo:
    """What the header of a GGUF file says.

    Attributes:
        version: GGUF format version.
        architecture: ``general.architecture`` (``llama``, ``gemma3``, …), if present.
        name: ``general.name``, if present.
        tensor_count: Number of tensors.
        min_size: Bytes the file must at least hold (data start plus last tensor offset).
        file_size: Bytes the file holds.
    """

    version: int
    architecture: str | None
    name: str | None
    tensor_count: int
    min_size: int
    file_size: int

    @property
    def truncated(self) -> bool:
        """True when the file ends before its last tensor starts."""
        return self.file_size <= self.min_size


def check_gguf(path: Path) -> None:
    """Check that ``path`` is an existing GGUF file of a version llama.cpp reads.

    Args:
        path: The model file.

    Raises:
        ModelError: Naming the file and the reason when it is missing, not a file, not
            GGUF (wrong magic bytes, a Git LFS pointer) or of an unsupported GGUF version.
    """
    if not path.exists():
        raise ModelError(f"Model file {path} does not exist.")
    if not path.is_file():
        raise ModelError(f"Model file {path} is not a file.")
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(64)
    if head.startswith(b"version https://git-lfs"):
        raise ModelError(
            f"Model file {path} is a Git LFS pointer, not the model: download the real file "
            "(`kbchat models pull`, or `git lfs pull` in its repository)."
        )
    if size < _MIN_SIZE or not head.startswith(GGUF_MAGIC):
        raise ModelError(
            f"Model file {path} is not a GGUF file (it starts with {head[:4]!r}, not "
            f"{GGUF_MAGIC!r}; {size} bytes): it may be a failed or partial download, or an "
            "old GGML .bin model, which must be converted to GGUF."
        )
    version = struct.unpack_from("<I", head, 4)[0]
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(
            f"Model file {path} is GGUF version {version}; llama.cpp reads versions "
            f"{' and '.join(map(str, SUPPORTED_VERSIONS))}: convert the model again with a "
            "current llama.cpp."
        )


def read_gguf_info(path: Path) -> GgufInfo:
    """Read the header of a GGUF file (keys and tensor table, not the tensor data).

    Args:
        path: The model file.

    Returns:
        The header facts.

    Raises:
        GgufFormatError: When the header is cut short or damaged.
    """
    file_size = path.stat().st_size
    with path.open("rb") as fh:
        reader = _Reader(fh)
        if reader.read(4) != GGUF_MAGIC:
            raise GgufFormatError("not a GGUF file")
        version = reader.unpack("<I")
        if version not in SUPPORTED_VERSIONS:
            raise GgufFormatError(f"unsupported GGUF version {version}")
        tensor_count = reader.unpack("<Q")
        kv_count = reader.unpack("<Q")
        if tensor_count > _MAX_COUNT or kv_count > _MAX_COUNT:
            raise GgufFormatError("the header is damaged (impossible tensor or key count)")
        meta: dict[str, object] = {}
        for _ in range(kv_count):
            key = reader.string()
            meta[key] = reader.value(reader.unpack("<I"))
        last_offset = 0
        for _ in range(tensor_count):
            reader.string()  # name
            n_dims = reader.unpack("<I")
            if n_dims > 8:
                raise GgufFormatError("the tensor table is damaged")
            for _ in range(n_dims):
                reader.unpack("<Q")
            reader.unpack("<I")  # tensor type
            last_offset = max(last_offset, reader.unpack("<Q"))
        alignment = meta.get("general.alignment", 32)
        align = alignment if isinstance(alignment, int) and alignment > 0 else 32
        data_start = -(-reader.position // align) * align
    arch = meta.get("general.architecture")
    name = meta.get("general.name")
    return GgufInfo(
        version=version,
        architecture=arch if isinstance(arch, str) else None,
        name=name if isinstance(name, str) else None,
        tensor_count=tensor_count,
        min_size=data_start + last_offset,
        file_size=file_size,
    )


def describe_load_failure(path: Path) -> str:
    """Explain why llama.cpp may have refused a file that passed `check_gguf`.

    Args:
        path: The model file llama.cpp failed to load.

    Returns:
        A reason a user can act on.
    """
    try:
        info = read_gguf_info(path)
    except GgufFormatError as exc:
        return f"its GGUF header cannot be read ({exc}): the file is damaged or incomplete"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if info.truncated:
        return (
            f"the file is cut short ({info.file_size} bytes, but its tensors need more than "
            f"{info.min_size}): a partial download? Download it again"
        )
    arch = f"architecture '{info.architecture}'" if info.architecture else "no architecture"
    return (
        f"llama.cpp could not load this GGUF ({arch}): the architecture or quantisation may "
        "be newer than the installed llama-cpp-python, or the file is damaged"
    )


class _Reader:
    """Little-endian reads from a GGUF header with clear errors at end of file."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.position = 0

    def read(self, n: int) -> bytes:
        data = self._fh.read(n)
        if len(data) != n:
            raise GgufFormatError("the header is cut short (the file ends inside it)")
        self.position += n
        return data

    def unpack(self, fmt: str) -> int:
        value = struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]
        return int(value)

    def string(self) -> str:
        length = self.unpack("<Q")
        if length > _MAX_STRING:
            raise GgufFormatError("the header is damaged (impossible string length)")
        return self.read(length).decode("utf-8", errors="replace")

    def value(self, vtype: int) -> object:
        if vtype in _SCALARS:
            fmt = _SCALARS[vtype]
            raw = struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]
            return raw if not isinstance(raw, float) else float(raw)
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type = self.unpack("<I")
            count = self.unpack("<Q")
            if count > _MAX_STRING:
                raise GgufFormatError("the header is damaged (impossible array length)")
            if item_type in _SCALARS:  # skip fixed-size arrays in one read
                self.read(struct.calcsize(_SCALARS[item_type]) * count)
            else:
                for _ in range(count):
                    self.value(item_type)
            return None
        raise GgufFormatError(f"the header is damaged (unknown value type {vtype})")
