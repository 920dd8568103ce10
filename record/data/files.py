"""Validated reading of dataset files: ``.npy`` arrays and JSON documents.

Every failure raises :class:`record.errors.DataFormatError` naming the file, the value found and the value
expected: a missing file, a file that is not ``.npy``, a truncated array (the header promises more bytes than the
file holds), a wrong shape or dtype, invalid JSON (with its line) or a JSON document missing a key.

:func:`read_npy_header` reads only the header, so whole trees can be checked for shape, dtype and truncation
without reading their data (``record data check``).
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from record.errors import DataFormatError, describe

__all__ = [
    "FLOAT_DTYPES",
    "MAGNITUDE_DTYPES",
    "MASK_DTYPES",
    "ArraySpec",
    "DataFileError",
    "NpyHeader",
    "check_header",
    "check_npy",
    "load_npy",
    "read_json",
    "read_npy_header",
    "require_keys",
]

#: Real floating dtypes (CARRADA views: the on-disk dtype is not documented, loaders cast to float32).
FLOAT_DTYPES: tuple[str, ...] = ("float32", "float64")
#: Dtypes accepted for label masks (values must still be 0 or 1).
MASK_DTYPES: tuple[str, ...] = ("float32", "float64", "float16", "bool", "uint8", "int8", "int32", "int64")
#: Dtypes accepted for CARRADA RAD cubes, read as ``np.abs`` (real magnitudes or complex values).
MAGNITUDE_DTYPES: tuple[str, ...] = FLOAT_DTYPES + ("complex64", "complex128")


class DataFileError(DataFormatError):
    """A :class:`DataFormatError` tagged with the kind of problem (``"wrong shape"``, ``"missing file"``, ...).

    ``record data check`` tallies problems by ``kind``; everything else can treat it as a DataFormatError.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ArraySpec:
    """What an array file must hold.

    Attributes:
        shape: expected shape; ``None`` entries accept any size along that axis.
        dtypes: accepted dtype names (e.g. ``("float32",)``).
        what: short description used in error messages (e.g. ``"ROD2021 chirp map"``).
    """

    shape: tuple[int | None, ...]
    dtypes: tuple[str, ...]
    what: str = "array"

    def shape_matches(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == len(self.shape) and all(e is None or e == s for e, s in zip(self.shape, shape))

    def describe_shape(self) -> str:
        return "(" + ", ".join("*" if e is None else str(e) for e in self.shape) + ")"


@dataclass(frozen=True)
class NpyHeader:
    """Header of a ``.npy`` file and where its data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int
    file_size: int

    @property
    def data_bytes(self) -> int:
        """Bytes of array data the header promises."""
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def truncated(self) -> bool:
        return self.file_size < self.data_offset + self.data_bytes


@functools.lru_cache(maxsize=64)
def _parse_header(raw: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of a complete ``.npy`` header; memoised, as a tree repeats a few headers."""
    handle = io.BytesIO(raw)
    version = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(handle)
    if handle.tell() != len(raw):
        raise ValueError("header length mismatch")
    return tuple(shape), bool(fortran_order), np.dtype(dtype)


def _read_header(handle: IO[bytes], path: Path) -> NpyHeader:
    try:
        start = handle.read(8)  # magic string and format version
        if len(start) < 8 or not start.startswith(np.lib.format.MAGIC_PREFIX):
            raise ValueError("the .npy magic string is missing")
        size_field = handle.read(2 if start[6] == 1 else 4)
        raw = start + size_field + handle.read(int.from_bytes(size_field, "little"))
        shape, fortran_order, dtype = _parse_header(raw)
    except (ValueError, EOFError, OSError, SyntaxError) as error:
        raise DataFileError("not a .npy file", describe(path, f"not a valid .npy file ({error})")) from None
    return NpyHeader(shape, dtype, fortran_order, len(raw), os.fstat(handle.fileno()).st_size)


def _open(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataFileError("missing file", describe(path, "file not found")) from None
    except IsADirectoryError:
        raise DataFileError("not a .npy file", describe(path, "is a folder, not a .npy file")) from None


def read_npy_header(path: str | os.PathLike[str]) -> NpyHeader:
    """The header of a ``.npy`` file (shape, dtype, data offset, file size) without reading its data."""
    path = Path(path)
    with _open(path) as handle:
        return _read_header(handle, path)


def check_header(path: str | os.PathLike[str], header: NpyHeader, spec: ArraySpec) -> None:
    """Raise :class:`DataFileError` when ``header`` is truncated or does not match ``spec``."""
    if header.dtype.hasobject or header.dtype.name not in spec.dtypes:
        expected = " or ".join(spec.dtypes)
        message = describe(path, f"wrong dtype for a {spec.what}", found=header.dtype, expected=expected)
        raise DataFileError("wrong dtype", message)
    if not spec.shape_matches(header.shape):
        expected = spec.describe_shape()
        message = describe(path, f"wrong shape for a {spec.what}", found=header.shape, expected=expected)
        raise DataFileError("wrong shape", message)
    if header.truncated:
        message = describe(
            path,
            "truncated .npy file",
            found=f"{header.file_size - header.data_offset} data bytes",
            expected=f"{header.data_bytes} bytes for shape {header.shape} {header.dtype}",
        )
        raise DataFileError("truncated file", message)


def check_npy(path: str | os.PathLike[str], spec: ArraySpec) -> NpyHeader:
    """Check the header of the ``.npy`` file at ``path`` against ``spec`` without reading its data."""
    header = read_npy_header(path)
    check_header(path, header, spec)
    return header


def load_npy(path: str | os.PathLike[str], spec: ArraySpec) -> np.ndarray:
    """Read a ``.npy`` array after checking its header against ``spec`` (no pickles, one pass over the file)."""
    path = Path(path)
    with _open(path) as handle:
        header = _read_header(handle, path)
        check_header(path, header, spec)
        count = math.prod(header.shape)
        data = np.fromfile(handle, dtype=header.dtype, count=count)
    if data.size != count:  # the file shrank between the size check and the read
        raise DataFileError(
            "truncated file", describe(path, "truncated .npy file", found=data.size, expected=count)
        )
    order = "F" if header.fortran_order else "C"
    return data.reshape(header.shape, order=order)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; errors name the file (and line for syntax errors)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError("missing file", describe(path, "file not found")) from None
    except UnicodeDecodeError as error:
        raise DataFileError(
            "invalid JSON", describe(path, f"not a UTF-8 text file ({error.reason})")
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        message = describe(path, f"invalid JSON ({error.msg})", line=error.lineno)
        raise DataFileError("invalid JSON", message) from None


def require_keys(path: str | os.PathLike[str], where: str, mapping: Any, keys: Iterable[str]) -> None:
    """Raise when ``mapping`` (found at ``where`` inside ``path``) is not a dict holding every key of ``keys``."""
    if not isinstance(mapping, dict):
        message = describe(path, f"{where} must be a JSON object", found=type(mapping).__name__)
        raise DataFileError("wrong JSON type", message)
    missing = [key for key in keys if key not in mapping]
    if missing:
        problem = f"{where} misses key(s) {', '.join(map(repr, missing))}"
        raise DataFileError("missing JSON key", describe(path, problem, found=sorted(mapping)[:12]))
