"""Synthetic ROD2021 datasets: simulated scenes through the signal chain, written in the ROD2021 layout.

Layout written (reorganised; ``plain=True`` puts the valid sequences under ``train`` as RODNet's script does)::

    sequences/{train,valid,test}/<SEQ>/RADAR_RA_H/<frame:06d>_<chirp:04d>.npy   (128, 128, 2) float32
    annotations/{train,valid}/<SEQ>.txt     <frame> <range_m> <azimuth_rad> <class>, 4 decimals
    ground_truth/test/<SEQ>.txt             the test labels (ROD2021 withholds them; kept aside for scoring)

Sequence names are the published ones (train, the 4 published validation names, test), then generated names of
the same ``YYYY_MM_DD_<SCENE><NNN>`` pattern. Maps come from :class:`record.dsp.chain.Rod2021Chain` on the 4
kept chirp loops simulated by :class:`record.sim.Simulator`; an annotation is written for every visible object
inside the evaluation gate (1-25 m, |azimuth| <= 60 deg), at its centre.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from record.data import rod2021 as rod
from record.data.synth_common import SequencePlan, SplitSize, plan_sequences, simulated_chunks, write_dataset
from record.dsp.chain import Rod2021Chain
from record.errors import ConfigError
from record.sensors import ROD2021
from record.sim import FrameTruth, SceneConfig, SimulationConfig

__all__ = ["Rod2021SynthConfig", "annotation_lines", "rod2021_names", "write_rod2021"]

_MAX_GENERATED = 1000


@dataclass(frozen=True)
class Rod2021SynthConfig:
    """Size and options of a synthetic ROD2021 dataset.

    The defaults (2,880 frames) simulate in about a minute and train a demo model in minutes on 2 CPU cores.

    Attributes:
        train, valid, test: sequences per split and frames per sequence (30 frames per second).
        plain: write the plain layout (valid sequences under ``sequences/train``; at most 4 of them).
        chunk_frames: frames simulated and transformed per batch.
        scene: what the random scenes hold; None = :func:`dataset_scene` of the capture.
        simulation: simulator physics switches.
    """

    train: SplitSize = field(default_factory=lambda: SplitSize(4, 480))
    valid: SplitSize = field(default_factory=lambda: SplitSize(2, 240))
    test: SplitSize = field(default_factory=lambda: SplitSize(2, 240))
    plain: bool = False
    chunk_frames: int = 64
    scene: SceneConfig | None = None
    simulation: SimulationConfig = field(default_factory=SimulationConfig)

    def __post_init__(self) -> None:
        if self.valid.sequences > len(rod.VALIDATION_SEQUENCES):
            raise ConfigError(
                f"Rod2021SynthConfig: at most {len(rod.VALIDATION_SEQUENCES)} valid sequences (the published "
                f"validation names; found {self.valid.sequences})"
            )
        if self.chunk_frames < 1:
            raise ConfigError(f"Rod2021SynthConfig.chunk_frames must be >= 1 (found {self.chunk_frames})")

    @property
    def sizes(self) -> dict[str, SplitSize]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def rod2021_names(split: str, count: int) -> list[str]:
    """``count`` sequence names for ``split``: the published ones first, then ``2021_01_DD_SYNS<NNN>``."""
    published = {"train": rod.TRAIN_SEQUENCES, "valid": rod.VALIDATION_SEQUENCES, "test": rod.TEST_SEQUENCES}[
        split
    ]
    generated_day = {"train": 1, "valid": 2, "test": 3}[split]
    generated = [f"2021_01_{generated_day:02d}_SYNS{i:03d}" for i in range(max(count - len(published), 0))]
    if len(generated) > _MAX_GENERATED:
        raise ConfigError(f"at most {len(published) + _MAX_GENERATED} {split} sequences (found {count})")
    return list(published[:count]) + generated


def annotation_lines(truth: FrameTruth) -> list[str]:
    """Annotation lines of one frame: visible objects inside the evaluation gate, values as written (4 decimals)."""
    lines = []
    for obj in truth.visible_objects():
        range_m, azimuth = round(obj.range_m, 4), round(obj.azimuth_rad, 4)
        if rod.EVALUATION_GATE.contains(np.array([range_m]), np.array([azimuth]))[0]:
            lines.append(f"{truth.frame} {range_m:.4f} {azimuth:.4f} {obj.class_name}\n")
    return lines


def _write_sequence(
    root: Path, plan: SequencePlan, config: Rod2021SynthConfig, chain: Rod2021Chain, bar: tqdm
) -> None:
    folder = "train" if config.plain and plan.split == "valid" else plan.split
    radar_dir = root / "sequences" / folder / plan.name / rod.CHIRP_FOLDER
    radar_dir.mkdir(parents=True)
    lines: list[str] = []
    for frames in simulated_chunks(ROD2021, plan, config.scene, config.simulation, config.chunk_frames):
        maps = chain(np.stack([frame.adc for frame in frames]))  # [F, 4, 128, 128, 2]
        for frame, frame_maps in zip(frames, maps):
            for chirp, chirp_map in zip(ROD2021.chirp_ids, frame_maps):
                np.save(radar_dir / rod.chirp_file_name(frame.index, chirp), chirp_map)
            lines += annotation_lines(frame.truth)
        bar.update(len(frames))
    labels = root / ("ground_truth" if plan.split == "test" else "annotations") / folder / f"{plan.name}.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text("".join(lines), encoding="utf-8")


def write_rod2021(
    out: str | os.PathLike[str],
    config: Rod2021SynthConfig | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Simulate and write a ROD2021 dataset at ``out`` (default :class:`Rod2021SynthConfig`), atomically."""
    config = config or Rod2021SynthConfig()
    names = {split: rod2021_names(split, size.sequences) for split, size in config.sizes.items()}
    chain = Rod2021Chain()
    write_dataset(
        out,
        plan_sequences(config.sizes, names, seed),
        lambda root, plan, bar: _write_sequence(root, plan, config, chain, bar),
        description="simulate rod2021",
        overwrite=overwrite,
        progress=progress,
    )
    return Path(out)
