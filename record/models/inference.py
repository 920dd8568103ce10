"""CPU inference settings for streaming use (online ``step`` at batch 1).

Measured with ``benchmarks/online_step.py`` (2-core x86 VM, 2 threads, batch 1, medians; record_rod2021 at
8 x 128 x 128, mv_record at RD/AD 256 x 64 + RA 256 x 256):

* published structure (one conv + norm per LSTM gate), NCHW: 40.7 / 321 / 394 ms
  (record_rod2021 step / mv_record step / record_rod2021 buffer window of 12 frames);
* + fused LSTM gates (the model's code): 39.1 / 309 / 359 ms;
* + channels-last (:func:`prepare_for_inference`): 17.1 / 133 / 154 ms;
* + glibc malloc tuning (:func:`configure_cpu_inference`): 16.9 / 118 / 157 ms.

Channels-last activations let oneDNN run the 1x1 and depthwise convolutions of the inverted residuals without
layout reorders. The glibc allocator tuning keeps the multi-MiB activations of every frame in the heap instead
of mmapping (and page-faulting) them anew each time; its gain depends on what else the process allocates (in a
process alternating two model layouts it halved the step time). Neither changes the arithmetic except through
oneDNN's choice of kernels: channels-last logits differ from NCHW ones by float32 round-off (3e-6 for
record_rod2021, 8e-6 for mv_record after 8 recurrent steps; the buffer output still equals the online one
exactly). ``torch.compile`` of encoder and decoder gained 5-20 % in noisy measurements for about a minute of
compilation per model and shape, so it is not used by default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any, TypeVar

import torch
from torch import nn

__all__ = ["configure_cpu_inference", "prepare_for_inference"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)

# glibc mallopt parameters (malloc.h) and the largest mmap threshold glibc accepts on 64-bit (HEAP_MAX / 2).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
_TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


def _tune_glibc_allocator() -> bool:
    """Serve allocations up to 32 MiB from the heap and keep freed memory (no trimming); True if applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )


def configure_cpu_inference(num_threads: int | None = None, *, tune_allocator: bool = True) -> dict[str, Any]:
    """Process-wide settings for CPU streaming inference; returns what was applied.

    * flush denormals to zero (quirk Q17: recurrent states decay into denormals, which are very slow on x86);
    * optionally set the intra-op thread count;
    * with ``tune_allocator`` (glibc only): fixed malloc mmap / trim thresholds so per-frame activations reuse
      heap memory. This raises the resident memory to the peak working set and keeps it; it affects the whole
      process, so call it from an application's entry point, not from library code.
    """
    flushed = torch.set_flush_denormal(True)
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    allocator = _tune_glibc_allocator() if tune_allocator else False
    return {"flush_denormal": flushed, "num_threads": torch.get_num_threads(), "allocator_tuned": allocator}


def prepare_for_inference(model: ModuleT, *, channels_last: bool = True) -> ModuleT:
    """Put ``model`` in eval mode and, by default, its weights in channels-last layout (activations follow).

    Inputs and states may stay in the default layout; the outputs are channels-last strided tensors with the
    usual ``[B, C, H, W]`` shape.
    """
    model.eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
