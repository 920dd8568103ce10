"""From what a user names (checkpoint or ONNX file) to what a backend needs, with an export cache.

``onnx_for_source``: an ONNX file as is, or a checkpoint's export, made once and kept in the cache folder
under a name holding the checkpoint's hash, size and precision. ``checkpoint_for_source``: a checkpoint as is,
or the one an ONNX file was exported from (its spec records the path and SHA-256; a moved or changed file is
refused).
"""

from __future__ import annotations

import os
from pathlib import Path

from record.errors import CheckpointError, DataFormatError, describe
from record.provenance import code_version, file_sha256
from record.runtime.spec import read_spec

__all__ = ["DEFAULT_CACHE_DIR", "checkpoint_for_source", "is_onnx", "onnx_for_source"]

DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "record" / "exports"


def is_onnx(source: str | os.PathLike[str]) -> bool:
    return Path(source).suffix.lower() == ".onnx"


def onnx_for_source(source: str | os.PathLike[str], *, size: tuple[int, int] | None = None,
                    fp16: bool = False, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``source`` itself when it is an ONNX file, else the (cached) export of the checkpoint ``source``."""
    if is_onnx(source):
        return Path(source)
    from record.runtime.export import export_onnx  # imports torch: only when there is something to export

    checkpoint = Path(source)
    if not checkpoint.is_file():
        raise CheckpointError(describe(checkpoint, "checkpoint file not found"))
    digest = file_sha256(checkpoint)
    version = code_version()["package"]
    shape = "default" if size is None else f"{size[0]}x{size[1]}"
    name = f"{checkpoint.stem}-{digest[:16]}-{shape}-{'fp16' if fp16 else 'fp32'}-v{version}.onnx"
    path = Path(cache_dir or DEFAULT_CACHE_DIR) / name
    if path.is_file():
        try:
            if read_spec(path).provenance.get("checkpoint_sha256") == digest:
                return path
        except DataFormatError:
            pass  # a damaged cache entry is exported again
    return export_onnx(checkpoint, path, fp16=fp16, size=size).path


def checkpoint_for_source(source: str | os.PathLike[str]) -> Path:
    """``source`` itself when it is a checkpoint, else the checkpoint the ONNX file ``source`` was made from.

    Raises:
        CheckpointError: the recorded checkpoint is missing or its content changed since the export.
    """
    if not is_onnx(source):
        return Path(source)
    provenance = read_spec(source).provenance
    checkpoint = Path(str(provenance.get("checkpoint", "")))
    if not checkpoint.is_file():
        raise CheckpointError(describe(source, "the checkpoint it was exported from is not here; pass the "
                                       "checkpoint itself", found=str(checkpoint)))
    if file_sha256(checkpoint) != provenance.get("checkpoint_sha256"):
        raise CheckpointError(describe(source, "the checkpoint it was exported from has changed since",
                                       found=str(checkpoint),
                                       expected=f"sha256 {provenance.get('checkpoint_sha256')}"))
    return checkpoint
