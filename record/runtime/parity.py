"""Closed-loop parity of runtimes: the same frames through every backend, each feeding back its own state.

Per step and backend, against the reference (the first backend): the largest absolute difference of the scores
and of the state tensors, the state difference relative to the state's magnitude, and agreement at the level
users see: ROD2021 detections (peaks, classes and positions after the published post-processing) or CARRADA
label maps (per-pixel argmax).

RECORD's cell states are not bounded (LeakyReLU, not tanh): a trained ROD2021 model's reach several hundred,
where one float32 rounding step is 3-6e-5, and closed-loop feedback amplifies per-step rounding. Two correct
float32 implementations therefore drift apart in absolute state values over hundreds of frames (PyTorch in
NCHW and in channels-last layout, against float64: 0.02 at magnitude 800 after 150 frames) while their scores
stay within 1e-5; the relative figure is the one to read for states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from record.eval.postprocess import decode_confmaps, detect_peaks
from record.runtime.base import Frames, Scores, StreamingRuntime
from record.runtime.spec import DeploymentSpec
from record.sensors import ROD2021

__all__ = ["BackendParity", "ParityReport", "detection_agreement", "run_parity"]


def _max_abs(a: Scores | Mapping[str, np.ndarray], b: Scores | Mapping[str, np.ndarray]) -> float:
    if isinstance(a, Mapping):
        return max((_max_abs(a[key], b[key]) for key in a), default=0.0)
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _detections(spec: DeploymentSpec, scores: np.ndarray) -> set[tuple[Any, ...]]:
    """(stream, class, row-or-range, column-or-azimuth) of every detection in ``scores [S, K, H, W]``."""
    if tuple(spec.input_size) == (ROD2021.range.n_bins, ROD2021.azimuth.n_bins):
        table = decode_confmaps(scores, classes=spec.classes)
        return set(zip(table.frame.tolist(), table.class_id.tolist(), table.range_m.round(6).tolist(),
                       table.azimuth_rad.round(6).tolist()))
    return set(zip(*(axis.tolist() for axis in np.nonzero(detect_peaks(scores)))))


def detection_agreement(spec: DeploymentSpec, reference: Scores, other: Scores) -> float:
    """1.0 when both give the same result: ROD2021 family (sigmoid): the detections' intersection over their
    union (1.0 when both are empty); CARRADA (softmax): the smallest per-view fraction of pixels with the same
    argmax class."""
    if spec.activation == "softmax":
        pairs = reference.items() if isinstance(reference, Mapping) else [(None, reference)]
        return min(float(np.mean(ref.argmax(axis=1) == (other[key] if key else other).argmax(axis=1)))
                   for key, ref in pairs)
    ours, theirs = _detections(spec, reference), _detections(spec, other)
    union = ours | theirs
    return len(ours & theirs) / len(union) if union else 1.0


@dataclass
class BackendParity:
    """Per-step errors of one backend against the reference."""

    backend: str
    score_max_abs: list[float] = field(default_factory=list)
    state_max_abs: list[float] = field(default_factory=list)
    state_max_rel: list[float] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)

    def worst(self) -> dict[str, float]:
        return {"score_max_abs": max(self.score_max_abs, default=0.0),
                "state_max_abs": max(self.state_max_abs, default=0.0),
                "state_max_rel": max(self.state_max_rel, default=0.0),
                "min_agreement": min(self.agreement, default=1.0),
                "steps_fully_agreeing": int(np.sum(np.asarray(self.agreement) == 1.0))}


@dataclass
class ParityReport:
    """Errors of every compared backend over a closed-loop run; ``reference`` ran the same frames."""

    model: str
    reference: str
    steps: int
    detections: int
    compared: list[BackendParity]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "reference": self.reference, "steps": self.steps,
                "reference_detections": self.detections,
                "backends": {p.backend: {**p.worst(), "per_step": {
                    "score_max_abs": p.score_max_abs, "state_max_abs": p.state_max_abs,
                    "state_max_rel": p.state_max_rel, "agreement": p.agreement}} for p in self.compared}}

    def table(self, every: int = 20) -> str:
        """Per-step lines (every ``every`` steps and the last) and each backend's worst values."""
        lines = [f"parity of {self.model} against {self.reference}, {self.steps} closed-loop steps"]
        columns = "  score abs  state abs  state rel   agree"
        lines.append(f"{'step':>6}" + "".join(f" | {p.backend}:{columns}" for p in self.compared))
        for step in range(self.steps):
            if step % every and step != self.steps - 1:
                continue
            cells = "".join(f" | {'':>{len(p.backend) + 1}}{p.score_max_abs[step]:11.2e}"
                            f"{p.state_max_abs[step]:11.2e}{p.state_max_rel[step]:11.2e}"
                            f"{p.agreement[step]:8.4f}" for p in self.compared)
            lines.append(f"{step:>6}{cells}")
        for p in self.compared:
            worst = p.worst()
            lines.append(f"worst {p.backend}: scores {worst['score_max_abs']:.3e}, "
                         f"states {worst['state_max_abs']:.3e} "
                         f"({worst['state_max_rel']:.3e} of their magnitude), agreement min "
                         f"{worst['min_agreement']:.4f} "
                         f"({worst['steps_fully_agreeing']}/{self.steps} steps identical)")
        lines.append(f"reference detections / labelled frames: {self.detections}")
        return "\n".join(lines)


def _count(spec: DeploymentSpec, scores: Scores) -> int:
    if spec.activation == "softmax":
        first = next(iter(scores.values())) if isinstance(scores, Mapping) else scores
        return int(np.any(first.argmax(axis=1) > 0))
    return len(_detections(spec, scores))  # type: ignore[arg-type]


def run_parity(runtimes: Mapping[str, StreamingRuntime], frames: Iterable[Frames], steps: int
               ) -> ParityReport:
    """Step every runtime through ``frames`` (at most ``steps``); the first runtime is the reference.

    Returns the per-step errors; ``detections`` counts the reference's detections (ROD2021) or frames with a
    non-background pixel (CARRADA), so that a comparison of two empty outputs shows as such.
    """
    (reference_name, reference), *others = runtimes.items()
    spec = reference.spec
    compared = [BackendParity(name) for name, _ in others]
    done = detections = 0
    for frame in frames:
        if done == steps:
            break
        expected = reference.step(frame)
        expected_state = reference.read_state()
        magnitude = max((float(np.max(np.abs(v))) for v in expected_state.values() if v.size), default=0.0)
        detections += _count(spec, expected)
        for parity, (_, runtime) in zip(compared, others):
            scores = runtime.step(frame)
            parity.score_max_abs.append(_max_abs(expected, scores))
            state_error = _max_abs(expected_state, runtime.read_state())
            parity.state_max_abs.append(state_error)
            parity.state_max_rel.append(state_error / magnitude if magnitude > 0 else state_error)
            parity.agreement.append(detection_agreement(spec, expected, scores))
        done += 1
    return ParityReport(spec.model, reference_name, done, detections, compared)
