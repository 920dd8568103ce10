"""Frames of a scene as raw ADC cubes with ground truth: the streaming simulator.

Frame ``f`` starts at ``f * frame_period_s``. Its loops are split into blocks; the scene is evaluated at each
block's mid-time (positions, velocities by central difference, aspect, shadowing) and the block's chirps are
synthesised from those scatterer states (:func:`record.sim.signal.beat_signal`), so limbs, wheels and turns move
within a frame. Static surroundings are synthesised once per simulator (zero Doppler) and corrected per frame
where a road user shadows them. Every frame draws its randomness (fluctuation, noise) from its own stream derived
from the simulator's seed and the frame index, so ``frame(i)`` is the same whether frames are produced in order,
skipped or in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from record.errors import ConfigError, InputError, describe
from record.sensors import CaptureConfig
from record.sim.calibration import default_radar
from record.sim.fading import FadingProcess, ObjectFading
from record.sim.objects import footprint
from record.sim.occlusion import Footprints, shadowed
from record.sim.receiver import RadarModel, add_noise, dc_offset, leakage
from record.sim.scene import ObjectSnapshot, Scene, SceneObject
from record.sim.signal import Scatterers, beat_signal
from record.sim.truth import FrameTruth, ObjectTruth, ScattererPoints

__all__ = [
    "FLUCTUATIONS",
    "SimFrame",
    "SimulatedSequence",
    "SimulationConfig",
    "Simulator",
    "simulate_sequence",
]

#: per-frame amplitude fluctuation models of road-user scatterers
FLUCTUATIONS = ("none", "swerling1", "swerling3")


@dataclass(frozen=True)
class SimulationConfig:
    """Physics switches of the simulator.

    Attributes:
        radar: antenna patterns, amplitude and noise scale, IF filter; None = the capture's calibrated default.
        fluctuation: per-frame, per-scatterer amplitude model of road users: ``"none"``, ``"swerling1"`` (power
            exponential, i.e. Rayleigh amplitude) or ``"swerling3"`` (power chi-square with 4 degrees of freedom).
        object_fading: whole-object fading correlated over time (:mod:`record.sim.fading`); None = off.
        occlusion: shadow scatterers that hide behind nearer objects.
        occlusion_loss_db: attenuation of a shadowed scatterer, dB (``math.inf`` removes it).
        noise: add receiver noise.
        leakage_db: Tx -> Rx leakage power per sample relative to the noise power, dB; None = off.
        dc_offset_db: ADC DC offset power relative to the noise power, dB; None = off.
        all_loops: synthesise every loop even when the capture keeps only ``chirp_ids`` (ROD2021).
        block_duration_s: longest stretch of chirps synthesised from one evaluation of the scene, seconds; the
            scene (limbs, wheels, turns) and the beat tone (range walk) are re-evaluated for every block.
        half_fov_rad: azimuth half-angle within which an object counts as in view (ground truth), radians.
        min_visible_fraction: unshadowed share of an object's RCS for it to count as visible.
    """

    radar: RadarModel | None = None
    fluctuation: str = "swerling1"
    object_fading: ObjectFading | None = None
    occlusion: bool = True
    occlusion_loss_db: float = 30.0
    noise: bool = True
    leakage_db: float | None = None
    dc_offset_db: float | None = None
    all_loops: bool = False
    block_duration_s: float = 1e-3
    half_fov_rad: float = math.radians(60.0)
    min_visible_fraction: float = 0.25

    def __post_init__(self) -> None:
        if self.fluctuation not in FLUCTUATIONS:
            raise ConfigError(
                describe(
                    "SimulationConfig.fluctuation",
                    "unknown model",
                    found=repr(self.fluctuation),
                    expected=FLUCTUATIONS,
                )
            )
        if not self.occlusion_loss_db >= 0:
            raise ConfigError(
                describe(
                    "SimulationConfig.occlusion_loss_db", "must be >= 0 dB", found=self.occlusion_loss_db
                )
            )
        if not (math.isfinite(self.block_duration_s) and self.block_duration_s > 0):
            raise ConfigError(
                describe("SimulationConfig.block_duration_s", "must be positive", found=self.block_duration_s)
            )
        if not 0 < self.half_fov_rad <= 0.5 * math.pi:
            raise ConfigError(
                describe(
                    "SimulationConfig.half_fov_rad",
                    "out of range",
                    found=self.half_fov_rad,
                    expected="(0, pi/2]",
                )
            )
        if not 0 <= self.min_visible_fraction <= 1:
            raise ConfigError(
                describe(
                    "SimulationConfig.min_visible_fraction",
                    "out of range",
                    found=self.min_visible_fraction,
                    expected="[0, 1]",
                )
            )
        for name in ("leakage_db", "dc_offset_db"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(describe(f"SimulationConfig.{name}", "must be finite or None", found=value))


@dataclass(frozen=True)
class SimFrame:
    """One simulated frame.

    Attributes:
        index: frame index in the sequence.
        adc: complex64 ``[len(loops), n_tx, n_rx, n_samples]``.
        loops: loop index of each row of ``adc``.
        truth: its ground truth.
    """

    index: int
    adc: np.ndarray
    loops: tuple[int, ...]
    truth: FrameTruth


@dataclass(frozen=True)
class SimulatedSequence:
    """A whole simulated sequence.

    Attributes:
        adc: complex64 ``[frames, len(loops), n_tx, n_rx, n_samples]``.
        loops: loop index of each loop row.
        truth: one :class:`FrameTruth` per frame.
    """

    adc: np.ndarray
    loops: tuple[int, ...]
    truth: tuple[FrameTruth, ...]


@dataclass(frozen=True)
class _Radar:
    """Scatterers as the radar sees them, arrays ``[P]``."""

    range_m: np.ndarray
    range_rate_mps: np.ndarray
    azimuth_rad: np.ndarray
    cos_off_boresight: np.ndarray
    elevation_rad: np.ndarray

    @staticmethod
    def of(position_m: np.ndarray, velocity_mps: np.ndarray, radar_height_m: float) -> _Radar:
        rel = position_m - np.array([0.0, 0.0, radar_height_m])
        slant = np.linalg.norm(rel, axis=1)
        ground = np.maximum(np.hypot(rel[:, 0], rel[:, 1]), 1e-9)
        # the array sees the direction cosine along its axis (+x = the sensor's right = -y)
        along_array = np.clip(-rel[:, 1] / slant, -1.0, 1.0)
        return _Radar(
            slant,
            np.sum(rel * velocity_mps, axis=1) / slant,
            np.arcsin(along_array),
            rel[:, 0] / ground,
            np.arctan2(rel[:, 2], ground),
        )


@dataclass(frozen=True)
class _Instant:
    """The road users at one instant: snapshots, their radar view, which scatterers are shadowed, their boxes."""

    snapshots: tuple[ObjectSnapshot, ...]
    views: tuple[_Radar, ...]
    shadow: tuple[np.ndarray, ...]
    boxes: Footprints


def _blocks(times_s: np.ndarray, duration_s: float) -> list[np.ndarray]:
    """Consecutive groups of the (ascending) loop times, each spanning less than ``duration_s``."""
    blocks, start = [], 0
    for i in range(1, len(times_s) + 1):
        if i == len(times_s) or times_s[i] - times_s[start] >= duration_s:
            blocks.append(np.arange(start, i))
            start = i
    return blocks


class Simulator:
    """Streams the ADC frames of ``scene`` as recorded by ``capture``.

    Args:
        capture: :data:`record.sensors.CARRADA`, :data:`record.sensors.ROD2021` or another capture.
        scene: the sequence content.
        config: physics switches (default :class:`SimulationConfig`).
        rng: random source; the simulator draws one seed from it, every frame's stream derives from that seed.
    """

    def __init__(
        self,
        capture: CaptureConfig,
        scene: Scene,
        config: SimulationConfig | None = None,
        *,
        rng: np.random.Generator,
    ) -> None:
        self.capture = capture
        self.scene = scene
        self.config = config or SimulationConfig()
        self.radar = self.config.radar or default_radar(capture)
        waveform = capture.waveform
        if self.config.all_loops or capture.chirp_ids is None:
            self.loops: tuple[int, ...] = tuple(range(waveform.n_loops))
        else:
            self.loops = tuple(capture.chirp_ids)
        loop_mid = (
            np.asarray(self.loops) * waveform.n_tx + 0.5 * (waveform.n_tx - 1)
        ) * waveform.chirp_period_s
        self._blocks = _blocks(loop_mid, self.config.block_duration_s)
        self._block_times = [float(loop_mid[b].mean()) for b in self._blocks]
        #: ground-truth reference time within a frame: the middle of the whole chirp burst
        self.reference_offset_s = 0.5 * waveform.n_loops * waveform.n_tx * waveform.chirp_period_s
        self._seed = np.random.SeedSequence(int(rng.integers(0, 2**63)))
        self._shadow_gain = 10.0 ** (-self.config.occlusion_loss_db / 20.0)
        self._static_cube: np.ndarray | None = None
        self._dc: np.ndarray | None = None
        self._static_shadowed = np.zeros(len(scene.static), dtype=bool)
        self._fading: dict[int, FadingProcess] = {}
        if self.config.object_fading is not None:
            for position, obj in enumerate(scene.objects):
                stream = np.random.default_rng(self._stream(2, position))
                self._fading[obj.track_id] = self.config.object_fading.draw(stream)

    # ------------------------------------------------------------------ public API
    def frame(self, index: int) -> SimFrame:
        """Frame ``index`` (>= 0): ADC cube and ground truth."""
        if not (isinstance(index, (int, np.integer)) and index >= 0):
            raise InputError(describe("Simulator.frame", "index must be a non-negative integer", found=index))
        index = int(index)
        rng = np.random.default_rng(self._stream(1, index))
        start_s = index * self.capture.waveform.frame_period_s
        reference_s = start_s + self.reference_offset_s
        objects = [o for o in self.scene.objects if bool(o.trajectory.state(reference_s).active[0])]
        fading = [self._fading_gain(o, reference_s) for o in objects]
        fluctuation = [self._fluctuation(rng, o.model.n_scatterers) * g for o, g in zip(objects, fading)]
        cube = self._static().copy()
        reference = self._instant(objects, reference_s)
        cube += self._static_shadow_correction(reference.boxes)
        for block, block_s in zip(self._blocks, self._block_times):
            instant = self._instant(objects, start_s + block_s)
            scatterers = self._scatterers(objects, instant, fluctuation, block_s)
            cube[block] += beat_signal(
                self.capture.waveform, scatterers, loops=np.asarray(self.loops)[block], n_blocks=1
            )
        if self.config.noise:
            add_noise(cube, self.radar.noise_std, rng)
        cube = self.radar.apply_if_filter(cube, self.capture.waveform)
        if self._dc is not None:
            cube += self._dc
        truth = FrameTruth(
            index, reference_s, tuple(
                self._truth(o, reference, i, gain) for i, (o, gain) in enumerate(zip(objects, fading))
            )
        )
        return SimFrame(index, cube, self.loops, truth)

    def frames(self, n_frames: int, start: int = 0) -> Iterator[SimFrame]:
        """Frames ``start .. start + n_frames - 1`` in order."""
        for index in range(start, start + n_frames):
            yield self.frame(index)

    # ------------------------------------------------------------------ internals
    def _stream(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self._seed.entropy, spawn_key=key)

    def _fluctuation(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.config.fluctuation == "swerling1":
            return np.sqrt(rng.exponential(1.0, n))
        if self.config.fluctuation == "swerling3":
            return np.sqrt(rng.gamma(2.0, 0.5, n))
        return np.ones(n)

    def _fading_gain(self, obj: SceneObject, time_s: float) -> complex | float:
        """The object's whole-object fading gain at ``time_s`` (1 without fading)."""
        process = self._fading.get(obj.track_id)
        return 1.0 if process is None else complex(process.gain(time_s))

    def _in_range(self, view: _Radar) -> np.ndarray:
        """Scatterers inside the complex-sampled IF band (beyond it the anti-alias filter removes them)."""
        return view.range_m < self.capture.waveform.max_range_m

    def _instant(self, objects: list[SceneObject], time_s: float) -> _Instant:
        height = self.scene.radar_height_m
        snapshots = tuple(o.snapshot(time_s) for o in objects)
        views = tuple(_Radar.of(s.position_m, s.velocity_mps, height) for s in snapshots)
        boxes = Footprints.concatenate([footprint(o.model, s.centre) for o, s in zip(objects, snapshots)])
        if not (self.config.occlusion and snapshots):
            return _Instant(snapshots, views, tuple(np.zeros(len(s.rcs_m2), bool) for s in snapshots), boxes)
        points = np.concatenate([s.position_m for s in snapshots])
        owner = np.concatenate([np.full(len(s.rcs_m2), i) for i, s in enumerate(snapshots)])
        hidden = shadowed(points, owner, Footprints.concatenate([boxes, self.scene.static.occluders]), height)
        split = np.cumsum([len(s.rcs_m2) for s in snapshots])[:-1]
        return _Instant(snapshots, views, tuple(np.split(hidden, split)), boxes)

    def _mean_amplitude(self, snapshot: ObjectSnapshot, view: _Radar, hidden: np.ndarray) -> np.ndarray:
        """Amplitude without fluctuation, shadowing applied, zero outside the IF band."""
        amplitude = self.radar.amplitude(
            snapshot.rcs_m2, view.range_m, view.cos_off_boresight, view.elevation_rad
        )
        return np.where(self._in_range(view), amplitude * np.where(hidden, self._shadow_gain, 1.0), 0.0)

    def _scatterers(
        self, objects: list[SceneObject], instant: _Instant, fluctuation: list[np.ndarray], block_s: float
    ) -> Scatterers:
        parts = []
        for obj, snapshot, view, hidden, fluct in zip(
            objects, instant.snapshots, instant.views, instant.shadow, fluctuation
        ):
            amplitude = self._mean_amplitude(snapshot, view, hidden) * fluct * np.exp(1j * obj.phase_rad)
            keep = amplitude != 0
            # states at the block's mid-time, expressed at the frame start for beat_signal
            parts.append(
                Scatterers(
                    (view.range_m - view.range_rate_mps * block_s)[keep],
                    view.range_rate_mps[keep],
                    view.azimuth_rad[keep],
                    amplitude[keep],
                )
            )
        return Scatterers.concatenate(parts)

    def _static_scatterers(self, gain: np.ndarray) -> Scatterers:
        """The static scatterers with amplitude factors ``gain`` ``[Q]`` (zero leaves a scatterer out)."""
        static = self.scene.static
        view = _Radar.of(static.position_m, np.zeros_like(static.position_m), self.scene.radar_height_m)
        amplitude = self.radar.amplitude(
            static.rcs_m2, view.range_m, view.cos_off_boresight, view.elevation_rad
        )
        amplitude = amplitude * gain * np.exp(1j * static.phase_rad)
        keep = self._in_range(view) & (amplitude != 0)
        return Scatterers(
            view.range_m[keep], view.range_rate_mps[keep], view.azimuth_rad[keep], amplitude[keep]
        )

    def _static(self) -> np.ndarray:
        """The frame-invariant part: static surroundings (shadowed by static boxes) and impairments."""
        if self._static_cube is not None:
            return self._static_cube
        static, waveform, loops = self.scene.static, self.capture.waveform, np.asarray(self.loops)
        if self.config.occlusion and len(static):
            self._static_shadowed = shadowed(
                static.position_m, static.owner, static.occluders, self.scene.radar_height_m
            )
        gain = np.where(self._static_shadowed, self._shadow_gain, 1.0)
        cube = beat_signal(waveform, self._static_scatterers(gain), loops=loops, n_blocks=1)
        rng = np.random.default_rng(self._stream(0))
        noise_power = self.radar.noise_std**2
        if self.config.leakage_db is not None:
            cube += leakage(waveform, loops, noise_power * 10.0 ** (self.config.leakage_db / 10.0), rng)
        if self.config.dc_offset_db is not None:
            self._dc = dc_offset(
                waveform, loops, noise_power * 10.0 ** (self.config.dc_offset_db / 10.0), rng
            )
        self._static_cube = cube
        return cube

    def _static_shadow_correction(self, boxes: Footprints) -> np.ndarray:
        """Signal to add so that static scatterers newly shadowed by road users lose ``occlusion_loss_db``."""
        static = self.scene.static
        if not (self.config.occlusion and len(static) and len(boxes)):
            return np.zeros((), dtype=np.complex64)
        newly = (
            shadowed(static.position_m, np.full(len(static), -1), boxes, self.scene.radar_height_m)
            & ~self._static_shadowed
        )
        if not newly.any():
            return np.zeros((), dtype=np.complex64)
        gain = np.where(newly, self._shadow_gain - 1.0, 0.0)
        return beat_signal(
            self.capture.waveform, self._static_scatterers(gain), loops=np.asarray(self.loops), n_blocks=1
        )

    def _truth(self, obj: SceneObject, reference: _Instant, i: int, fading: complex) -> ObjectTruth:
        snapshot, view, hidden = reference.snapshots[i], reference.views[i], reference.shadow[i]
        centre = snapshot.centre
        x, y = float(centre.x_m[0]), float(centre.y_m[0])
        vx, vy = float(centre.vx_mps[0]), float(centre.vy_mps[0])
        range_m = math.hypot(x, y)
        azimuth = math.atan2(-y, x)
        near, far = self.capture.range.span_m
        in_fov = (
            near <= range_m <= min(far, self.capture.waveform.max_range_m)
            and abs(azimuth) <= self.config.half_fov_rad
        )
        total = float(snapshot.rcs_m2.sum())
        visible_fraction = float(snapshot.rcs_m2[~hidden].sum()) / total if total > 0 else 0.0
        power = (self._mean_amplitude(snapshot, view, hidden) / self.radar.noise_std) ** 2
        seen = (~hidden) & (power > 0)
        waveform = self.capture.waveform
        integrated = float(power.sum()) * waveform.n_samples * waveform.n_virtual
        return ObjectTruth(
            track_id=obj.track_id,
            class_name=obj.class_name,
            range_m=range_m,
            azimuth_rad=azimuth,
            range_rate_mps=(x * vx + y * vy) / max(range_m, 1e-9),
            x_m=x,
            y_m=y,
            vx_mps=vx,
            vy_mps=vy,
            heading_rad=float(centre.heading_rad[0]),
            length_m=obj.model.length_m,
            width_m=obj.model.width_m,
            in_fov=bool(in_fov),
            visible_fraction=visible_fraction,
            visible=bool(in_fov and visible_fraction >= self.config.min_visible_fraction),
            snr_db=10.0 * math.log10(integrated) if integrated > 0 else -math.inf,
            points=ScattererPoints(
                view.range_m[seen], view.azimuth_rad[seen], view.range_rate_mps[seen], power[seen]
            ),
            fading_db=20.0 * math.log10(abs(fading)) if fading != 0 else -math.inf,
        )


def simulate_sequence(
    capture: CaptureConfig,
    scene: Scene,
    n_frames: int,
    config: SimulationConfig | None = None,
    *,
    rng: np.random.Generator,
) -> SimulatedSequence:
    """All ``n_frames`` frames of ``scene`` at once (``[frames, loops, tx, rx, samples]``, complex64)."""
    if n_frames < 1:
        raise InputError(describe("simulate_sequence", "n_frames must be >= 1", found=n_frames))
    simulator = Simulator(capture, scene, config, rng=rng)
    frames = list(simulator.frames(n_frames))
    return SimulatedSequence(
        np.stack([f.adc for f in frames]), simulator.loops, tuple(f.truth for f in frames)
    )
