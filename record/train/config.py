"""Typed schemas of the ``record train`` / ``record evaluate`` configurations (Hydra structured configs).

Every group of the YAML tree in ``record/conf`` extends a schema stored here in Hydra's ConfigStore
(:func:`register_schemas`): ``dataset/*.yaml`` extend :class:`DatasetConfig`, ``model/*.yaml``
:class:`ModelSection`, ``mode/*.yaml`` :class:`ModeConfig`; the primary configs ``train.yaml`` and
``evaluate.yaml`` extend :class:`TrainRunConfig` and :class:`EvaluateRunConfig`. A misspelt key or a value of
the wrong type, in a YAML file or on the command line, therefore fails at composition and names the key.

Units: durations in seconds, window / clip lengths in frames, crops in bins, thresholds as probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

__all__ = [
    "LAYOUTS",
    "LR_SCHEDULES",
    "MODES",
    "DatasetConfig",
    "EarlyStoppingConfig",
    "EvalConfig",
    "EvaluateRunConfig",
    "LossConfig",
    "ModeConfig",
    "ModelSection",
    "RunConfig",
    "SynthConfig",
    "TrainConfig",
    "TrainRunConfig",
    "WindowConfig",
    "register_schemas",
]

#: Dataset layouts a configuration can name, and the temporal modes.
LAYOUTS = ("rod2021", "carrada")
MODES = ("buffer", "online")
LR_SCHEDULES = ("step", "cosine")

# Published CARRADA class weights of the weighted cross-entropy, [background, pedestrian, cyclist, car]
# (configs/carrada/weights_config/{rd,ra}_weights.json, identical to valeoai/MVRSS).
_RD_CLASS_WEIGHTS = [0.0004237, 0.4750, 0.4175, 0.1071]
_RA_CLASS_WEIGHTS = [0.0001238, 0.4937, 0.4158, 0.0903]


@dataclass
class WindowConfig:
    """Training samples of one temporal mode: ``length`` frames, a new sample every ``stride`` frames."""

    length: int = MISSING
    stride: int = MISSING


@dataclass
class SynthConfig:
    """A synthetic dataset simulated on first use when ``root`` is missing (``record simulate`` sizes).

    Attributes:
        train_sequences, valid_sequences, test_sequences: sequences per split.
        train_frames, eval_frames: frames per training / per validation and test sequence.
        seed: dataset seed.
        scenario: simulator settings by name (:data:`record.train.synthetic.SCENARIOS`): ``default`` (the
            calibrated simulator), ``clear`` (strong targets, no static clutter) or ``temporal`` (fading,
            shadowed and confusable targets).
    """

    train_sequences: int = 4
    train_frames: int = 480
    valid_sequences: int = 2
    test_sequences: int = 2
    eval_frames: int = 240
    seed: int = 0
    scenario: str = "default"


@dataclass
class DatasetConfig:
    """Where the data is and how training samples are cut from it.

    Attributes:
        name: the config's name (``rod2021``, ``carrada``, ``synth_rod2021``, ``synth_carrada``).
        layout: ``rod2021`` or ``carrada`` (what :mod:`record.data` reads).
        root: the data root (ROD2021: holds ``sequences/``; CARRADA: the ``Carrada/`` folder).
        train_split, val_split, eval_split: split names of the layout.
        buffer, online: published sample geometry (length / stride) per mode: ROD2021 12 / 4 and 32 / 8,
            CARRADA 5 / 1 and 10 / 1.
        augment: apply the published training augmentations.
        mirror_axes: ROD2021 mirror, ``range_angle`` (published) or ``angle`` (azimuth only, quirk Q8).
        transforms: CARRADA flips; ``[hflip]`` reproduces the published RECORD runs (quirk Q1).
        synthetic: simulate the dataset into ``root`` when it is missing (synthetic configs only).
    """

    name: str = MISSING
    layout: str = MISSING
    root: str = MISSING
    train_split: str = MISSING
    val_split: str = MISSING
    eval_split: str = MISSING
    buffer: WindowConfig = field(default_factory=WindowConfig)
    online: WindowConfig = field(default_factory=WindowConfig)
    augment: bool = True
    mirror_axes: str = "range_angle"
    transforms: list[str] = field(default_factory=lambda: ["hflip", "vflip"])
    synthetic: SynthConfig | None = None


@dataclass
class ModelSection:
    """The network: a :func:`record.models.list_models` name, its config overrides and optional weights.

    Attributes:
        name: registry name.
        views: CARRADA input views (``[rd]``, ``[ra]`` or ``[rd, ra, ad]``); empty for ROD2021 models.
        options: model config fields to override (``record.models.create_model`` keywords).
        checkpoint: initial weights (project or published checkpoint); None = random initialisation.
    """

    name: str = MISSING
    views: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None


@dataclass
class ModeConfig:
    """``buffer``: windows, last-frame loss; ``online``: clips from a zero state, loss on all frames."""

    name: str = MISSING


@dataclass
class EarlyStoppingConfig:
    """Stop when ``monitor`` has not improved for ``patience`` validations (``mode``: ``min`` or ``max``).

    Monitors: ``val_loss``; CARRADA also ``val_global_precision`` (mean of the views' class-mean pixel
    precision), ``val_rd_precision``, ``val_ra_precision``, ``val_rd_miou``, ``val_ra_miou``.
    """

    enabled: bool = True
    monitor: str = "val_loss"
    mode: str = "min"
    patience: int = 7


@dataclass
class TrainConfig:
    """Optimisation and loop settings (defaults: the published ROD2021 buffer recipe).

    Attributes:
        lr, weight_decay: Adam settings.
        lr_schedule: ``step`` (published): the learning rate is multiplied by ``lr_gamma`` every
            ``lr_every_epochs`` epochs; ``cosine``: it decays from ``lr`` to 0 over ``max_steps`` optimiser
            steps along half a cosine (for budgeted runs: the weights settle at the end of the budget instead
            of being taken mid-oscillation; needs ``max_steps``).
        lr_gamma, lr_every_epochs: the ``step`` schedule.
        batch_size: GLOBAL samples per micro-batch, split evenly across DDP ranks.
        accumulate: micro-batches per optimiser step (effective batch = batch_size x accumulate).
        window, stride: override the dataset's sample geometry for the mode (None: the dataset's).
        tbptt_clips: online mode, truncated BPTT over consecutive clips: a training sample spans this many
            consecutive clips of ``window`` frames (one crop and one augmentation draw for all of them) and
            the recurrent state runs on from one clip into the next, detached (gradients stop at clip
            boundaries), from the zero state at the sample's start. Each clip is a micro-batch of its own (one
            optimiser step per clip unless ``accumulate`` > 1), so optimiser steps and frames per step are
            those of ``window``-frame clips, while the state sees up to ``window x tbptt_clips`` frames,
            closer to the long streams it runs on at evaluation. ``stride`` separates samples. 1 (default,
            the published recipes): every clip starts from the zero state.
        crop: train on random ``[height, width]`` crops of the maps (same crop for every frame and target of a
            sample; sizes divisible by the network stride; single-view models only). Evaluation and validation
            use whole frames. A fully convolutional model learns from crops at a fraction of the cost.
        crop_on_objects: probability that a crop is placed to hold an object (a pixel where the targets exceed
            0.5) rather than anywhere: objects are sparse, so uniform crops show mostly background.
        whole_map_steps: with ``crop``, the last N optimiser steps of the ``max_steps`` budget train on whole
            maps, so that normalisation layers (GroupNorm) see whole-map statistics before evaluation: samples
            whose first clip starts at or after step ``max_steps - N`` are not cropped (with ``tbptt_clips`` > 1
            the phase therefore starts at the next sample boundary). Needs ``max_steps`` and ``crop``; 0
            (default): crops throughout.
        output_prior: when the model starts from random weights, bias its output layers so that it first
            scores every object class at this probability (RetinaNet's prior initialisation; e.g. 0.01), not
            0.5: objects are sparse, and training then spends its first steps learning where they are rather
            than pushing every pixel down. None (published): the layers' default initialisation.
        ema_decay: keep an exponential moving average of the weights with this decay per optimiser step
            (e.g. 0.995: about the last 200 steps; :mod:`record.train.ema`); validation, early stopping and
            the saved model use the average. None (published): the trained weights.
        max_epochs: epoch limit; max_steps / max_time_s: optional budgets in optimiser steps / seconds (the
            run stops after the step that reaches them and saves ``last.pt``).
        val_every_epochs: validate every N epochs (and at the last epoch); 0 = never.
        seed: seeds python, numpy, torch; per-sample augmentation draws depend on (seed, epoch, sample).
        deterministic: ask torch for deterministic kernels (``torch.use_deterministic_algorithms``).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        amp: ``auto`` (bf16 when the GPU supports it, else fp16; off on CPU), ``off``, ``bf16``, ``fp16``.
        workers: DataLoader worker processes per rank.
        threads: torch intra-op threads per rank (None: torch's default).
        resume: a ``last.pt`` / ``best.pt`` to continue from, or ``auto`` (``<run.dir>/checkpoints/last.pt``
            when it exists).
        checkpoint_every_steps: also write ``last.pt`` every N optimiser steps (None: at epoch ends only).
        log_every_steps: TensorBoard scalar period.
        progress: tqdm bars (rank 0).
        activation_checkpointing: keep only each frame's inputs, states and outputs in the forward pass and
            recompute the frame's activations in the backward pass (``torch.utils.checkpoint`` per online
            ``step``, and per frame encoder in buffer windows): a sample keeps a few MiB per frame instead of
            all its activations (0.1 GiB per 128 x 128 RECORD frame, 0.8 GiB per MV-RECORD frame), plus one
            frame's worth while it is recomputed, for 1.3-1.5 x the compute of a step; gradients are
            unchanged. False (published): keep every activation.
        memory_check: before the first optimiser step, run one training sample over a few frames (forward and
            backward, no effect on the run), extrapolate the peak memory to ``batch_size`` (per process) and
            the clip length, and stop with the settings to lower when it exceeds the memory this process can
            have (CPU: the available memory and cgroup limit; CUDA: the device's free memory)
            (:mod:`record.train.memory`).
        memory_margin: fraction of that memory left free for what the estimate does not cover (allocator
            fragmentation, DataLoader workers, validation), in [0, 1).
    """

    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: str = "step"
    lr_gamma: float = 0.9
    lr_every_epochs: int = 10
    batch_size: int = 16
    accumulate: int = 1
    window: int | None = None
    stride: int | None = None
    tbptt_clips: int = 1
    crop: list[int] | None = None
    crop_on_objects: float = 0.0
    whole_map_steps: int = 0
    output_prior: float | None = None
    ema_decay: float | None = None
    max_epochs: int = 100
    max_steps: int | None = None
    max_time_s: float | None = None
    val_every_epochs: int = 1
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    seed: int = 252
    deterministic: bool = False
    device: str = "auto"
    amp: str = "auto"
    workers: int = 2
    threads: int | None = None
    resume: str | None = None
    checkpoint_every_steps: int | None = None
    log_every_steps: int = 10
    progress: bool = True
    activation_checkpointing: bool = False
    memory_check: bool = True
    memory_margin: float = 0.15


@dataclass
class LossConfig:
    """Losses on logits. ROD2021: BCE (or a focal loss) on the confidence maps. CARRADA, per output view: (wCE + dice_weight x
    soft Dice) / 2, summed over views.

    Attributes:
        heatmap: ROD2021 confidence-map loss: ``bce`` (published), the mean binary cross-entropy; or ``focal``,
            CenterNet's penalty-reduced focal loss (:func:`record.train.losses.confmap_focal`), summed and
            divided by the number of object centres, so the few centre pixels are not outweighed by the
            background. Validation losses use the same loss.
        focal_alpha, focal_beta: exponents of the focal loss (CenterNet: 2 and 4): ``alpha`` down-weights
            pixels already scored right, ``beta`` the background close to an object centre.
        bce_object_weight: ``bce`` only: each pixel's BCE term weighted by ``1 + bce_object_weight x
            target``, so object pixels count more against the background (0: published, unweighted). Lifts
            the scores of a briefly trained model above the published 0.3 peak threshold (README).
        dice_weight: weight of the soft Dice term (published 10).
        rd_class_weights, ra_class_weights: cross-entropy class weights (published values).
        sigmoid_before_loss: parity with the published single-view CARRADA models, which fed sigmoid outputs
            to CE / soft Dice (quirk Q2).
        cumulative_online: parity with the published MV-RECORD online trainer, which weighted frame s of a
            T-frame clip by (T - s) / T (quirk Q4); default: the plain mean over frames.
    """

    heatmap: str = "bce"
    focal_alpha: float = 2.0
    focal_beta: float = 4.0
    bce_object_weight: float = 0.0
    dice_weight: float = 10.0
    rd_class_weights: list[float] = field(default_factory=lambda: list(_RD_CLASS_WEIGHTS))
    ra_class_weights: list[float] = field(default_factory=lambda: list(_RA_CLASS_WEIGHTS))
    sigmoid_before_loss: bool = False
    cumulative_online: bool = False


@dataclass
class RunConfig:
    """Output folder of a run (config, checkpoints, TensorBoard logs, metrics, pictures)."""

    dir: str = MISSING


@dataclass
class TrainRunConfig:
    """``record train``: what to train, on what, how."""

    dataset: DatasetConfig = MISSING
    model: ModelSection = MISSING
    mode: ModeConfig = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    run: RunConfig = field(default_factory=RunConfig)


@dataclass
class EvalConfig:
    """How ``record evaluate`` runs a model over the evaluation sequences.

    Attributes:
        mode: ``online`` (one frame at a time, recurrent state carried) or ``buffer`` (sliding window, stride
            1, growing window over a sequence's first frames, quirk Q12).
        window: buffer length (None: the model's ``config.window``).
        split: split to evaluate (None: ``dataset.eval_split``).
        reset_states: reset the recurrent state at every sequence start; False reproduces the published online
            CARRADA evaluation, which streamed all sequences through one state (quirk Q9).
        skip_first: CARRADA: leave the first ``window - 1`` frames of every sequence out of the scores, as the
            published buffer evaluation did (quirk Q9).
        peak_threshold, ols_threshold, max_dets, published_lnms: ROD2021 post-processing
            (:class:`record.eval.postprocess.PostProcessConfig`).
        strip_frames: frames per sequence in the PNG strips (0: no strips).
        gif_frames: frames per sequence in the animated GIF (0: no GIF).
        device: as ``train.device``.
        workers: DataLoader workers reading the frames.
        progress: show a progress bar.
    """

    mode: str = "online"
    window: int | None = None
    split: str | None = None
    reset_states: bool = True
    skip_first: bool = False
    peak_threshold: float = 0.3
    ols_threshold: float = 0.3
    max_dets: int = 20
    published_lnms: bool = False
    strip_frames: int = 6
    gif_frames: int = 40
    device: str = "auto"
    workers: int = 1
    progress: bool = True


@dataclass
class EvaluateRunConfig:
    """``record evaluate``: a checkpoint, the data (default: the dataset it was trained on) and options."""

    checkpoint: str = MISSING
    dataset: DatasetConfig | None = None
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)


def register_schemas() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent) under the names the YAML defaults lists use."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainRunConfig)
    store.store(name="evaluate_schema", node=EvaluateRunConfig)
    store.store(group="dataset", name="dataset_schema", node=DatasetConfig)
    store.store(group="model", name="model_schema", node=ModelSection)
    store.store(group="mode", name="mode_schema", node=ModeConfig)
