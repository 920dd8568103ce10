"""The training loop behind ``record train``: one process, or one per device under ``torchrun`` (DDP).

Per epoch: a shuffled pass over the training samples (the global batch split evenly across ranks, gradients
accumulated over ``train.accumulate`` micro-batches and averaged across ranks by DistributedDataParallel),
then validation, early stopping, the learning-rate schedule (``step``: x ``lr_gamma`` every
``lr_every_epochs`` epochs; ``cosine``: decayed after every optimiser step, down to 0 at ``max_steps``) and
checkpoints: ``<run>/checkpoints/last.pt`` every epoch (and every ``checkpoint_every_steps`` steps, and when
a budget or a signal stops the run), ``best.pt`` whenever the monitored metric improves. Rank 0 logs (tqdm,
TensorBoard) and writes; every rank waits at a barrier around each write.

Online truncated BPTT (``train.tbptt_clips`` = n > 1): a training sample holds n consecutive clips; each clip
is a micro-batch of its own, run from the recurrent state the previous clip of the same samples left
(detached), the zero state at a sample's first clip.

Crops (``train.crop``) stop ``train.whole_map_steps`` optimiser steps before ``train.max_steps``: the batches of
samples that start from there on are whole maps, from a training DataLoader rebuilt once at the switch.

SIGINT / SIGTERM stop the run cleanly after the current optimiser step, with ``last.pt`` written; a second
SIGINT interrupts at once. ``train.resume`` continues exactly where ``last.pt`` stopped (weights, optimiser,
schedule, gradient scaler, early stopping, RNG states of every rank, epoch, step and position in the epoch,
and the recurrent state carried between two clips).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate
from tqdm import tqdm

from record.data.base import SequenceDataset
from record.errors import CheckpointError, ConfigError, describe
from record.fileio import atomic_write_text
from record.models import RecordNoLstm, StreamingModel, create_model, read_checkpoint
from record.provenance import code_version
from record.train import distributed as dist
from record.train.checkpoints import (
    Progress,
    TrainingState,
    read_training_state,
    resolve_resume,
    save_training_checkpoint,
)
from record.train.compose import resolved_dict, typed, validate_train_config
from record.train.config import TrainConfig, TrainRunConfig
from record.train.crops import cropped
from record.train.data import SampleGeometry, open_layout, sample_geometry, training_set, validation_set
from record.train.early_stopping import EarlyStopping
from record.train.ema import WeightAverage
from record.train.environment import (
    AmpPolicy,
    capture_rng,
    configure_threads,
    restore_rng,
    seed_everything,
    select_device,
)
from record.train.losses import frame_weights
from record.train.memory import check_memory
from record.train.sampling import IndexSampler, ResumableSampler, SeededItems
from record.train.synthetic import ensure_dataset
from record.train.tasks import SegmentationTally, Task, make_task
from record.train.temporal import (
    ClipRunner,
    Inputs,
    State,
    StreamRunner,
    frame_at,
    frame_count,
    stream_outputs,
    time_slice,
)

__all__ = ["RunData", "StepCallback", "TrainResult", "Trainer", "train"]

ViewTensors = dict[str, torch.Tensor]
#: ``on_step(progress, model, loss)``: called by rank 0 after every optimiser step with the run's position,
#: the model it validates and saves (the weight average with ``train.ema_decay``) and the step's mean training
#: loss on rank 0; returning True stops the run after this step (``stopped_by="on_step"``, ``last.pt`` saved).
StepCallback = Callable[[Progress, StreamingModel, float], bool | None]


@dataclass(frozen=True)
class RunData:
    """Datasets of a run, when not built from ``config.dataset``: training samples (items as
    :mod:`record.data` produces them: windows for buffer mode, clips with a target per frame for online mode;
    with ``train.tbptt_clips`` = n, each sample holds n clips, a multiple of n frames) and optional validation
    data (buffer: windows; online: a :class:`~record.data.base.SequenceDataset` of
    frames with ``first`` flags)."""

    training: Dataset
    validation: Dataset | None = None


@dataclass(frozen=True)
class TrainResult:
    """Where a run ended: its folder, checkpoints, position, last validation metrics and why it stopped
    (``max_epochs``, ``early_stopping``, ``max_steps``, ``max_time``, ``signal``, ``on_step``)."""

    run_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    progress: Progress
    metrics: dict[str, float]
    stopped_by: str


class _StopRequest:
    """SIGINT / SIGTERM set a flag checked after every optimiser step; a second SIGINT raises at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StopRequest]:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            pass
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)


def _loader(dataset: Dataset, batch_size: int, sampler: Sampler[int], workers: int, seed: int,
            device: torch.device) -> DataLoader:
    """A DataLoader whose worker seeds come from its own generator (the global RNG is left untouched)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=device.type == "cuda", generator=generator)


def _lr_scheduler(optimizer: torch.optim.Optimizer,
                  train: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """``train.lr_schedule``: ``step`` (stepped once per epoch) or ``cosine`` (once per optimiser step)."""
    if train.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=train.lr_every_epochs, gamma=train.lr_gamma)
    total = train.max_steps
    assert total is not None  # validate_train_config

    def cosine(step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


def _to_float(value: Any) -> float:
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


class Trainer:
    """One training run (build with :meth:`from_config`; run with :meth:`fit`)."""

    def __init__(self, config: TrainRunConfig, resolved: dict[str, Any], info: dist.DistInfo,
                 device: torch.device, data: RunData | None = None,
                 on_step: StepCallback | None = None) -> None:
        self.config, self.resolved, self.info, self.device = config, resolved, info, device
        self.on_step = on_step if info.is_main else None
        train = config.train
        if train.batch_size % info.world_size:
            raise ConfigError(describe("train.batch_size", "the global batch must split evenly across ranks",
                                       found=f"{train.batch_size} over {info.world_size} processes",
                                       expected=f"a multiple of {info.world_size}"))
        self.batch_per_rank = train.batch_size // info.world_size
        self.mode = config.mode.name
        self.amp = AmpPolicy.choose(train.amp, device)
        self.run_dir = Path(dist.broadcast_object(config.run.dir))
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.code_version = code_version()

        resume_path = resolve_resume(train.resume, self.run_dir)
        payload = read_checkpoint(resume_path) if resume_path is not None else None
        self.model = self._build_model(payload).to(device)
        self.model.set_grad_checkpointing(train.activation_checkpointing)
        # a resumed run's checkpoint weights are its average (when it kept one): the average goes on from them
        self.average = WeightAverage(self.model, train.ema_decay) if train.ema_decay is not None else None
        self.task: Task = make_task(config.dataset.layout, config.model, self.model, config.loss)
        self.geometry = sample_geometry(config.dataset, train, self.mode)
        self.clips_per_sample = train.tbptt_clips
        self.carried: State | None = None

        data = self._build_data() if data is None else data
        self.items = SeededItems(cropped(data.training, train.crop, self.task, train.crop_on_objects),
                                 train.seed)
        self.whole_items = SeededItems(data.training, train.seed)  # the last train.whole_map_steps steps
        self.sampler = ResumableSampler(self.items, num_replicas=info.world_size, rank=info.rank,
                                        shuffle=True, seed=train.seed)
        self.validation = data.validation

        self.runner = ClipRunner(self.model, self.mode, carry_state=self.clips_per_sample > 1)
        self.network: torch.nn.Module = self.runner
        if info.distributed:
            device_ids = [device.index] if device.type == "cuda" else None
            self.network = DistributedDataParallel(self.runner, device_ids=device_ids)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train.lr,
                                          weight_decay=train.weight_decay)
        self.scheduler = _lr_scheduler(self.optimizer, train)
        self.scaler = self.amp.grad_scaler()
        self.early_stopping = EarlyStopping(train.early_stopping)
        self.progress = Progress()
        self.metrics: dict[str, float] = {}
        if payload is not None:
            self._restore(payload, str(resume_path))
        self.writer: Any = None

    # -------------------------------------------------------- set-up
    def _build_model(self, payload: Mapping[str, Any] | None) -> StreamingModel:
        section = self.config.model
        options = dict(section.options)
        if payload is not None:
            return create_model(section.name, checkpoint=payload, **options)
        if section.checkpoint is not None:
            return create_model(section.name, checkpoint=section.checkpoint, **options)
        model = create_model(section.name, **options)
        if self.config.train.output_prior is not None:
            model.init_output_prior(self.config.train.output_prior)
        return model

    def _build_data(self) -> RunData:
        """Training and validation sets of ``config.dataset`` (simulated first by rank 0 when synthetic)."""
        dataset = self.config.dataset
        if self.info.is_main:
            ensure_dataset(dataset, progress=self.config.train.progress)
        dist.barrier()
        layout = open_layout(dataset)
        samples = SampleGeometry(self.geometry.length * self.clips_per_sample, self.geometry.stride)
        return RunData(training_set(dataset, layout, self.task, self.mode, samples),
                       validation_set(dataset, layout, self.task, self.mode, self.geometry))

    def _restore(self, payload: Mapping[str, Any], where: str) -> None:
        state = read_training_state(payload, where)
        try:
            self.optimizer.load_state_dict(state.optimizer)
            self.scheduler.load_state_dict(state.scheduler)
            if state.grad_scaler and self.scaler.is_enabled():
                self.scaler.load_state_dict(state.grad_scaler)
        except (ValueError, KeyError, RuntimeError) as error:
            problem = f"optimiser state does not fit this run ({error})"
            raise CheckpointError(describe(where, problem)) from None
        if state.trained_weights:
            self.model.load_state_dict(state.trained_weights)
        self.early_stopping.load_state_dict(state.early_stopping)
        self.progress = state.progress
        if self.progress.history:
            self.metrics = {k: v for k, v in self.progress.history[-1].items() if k.startswith("val_")}
        if state.world_size == self.info.world_size:
            restore_rng(state.rng[self.info.rank], where)
            carried = state.carried_state[self.info.rank] if state.carried_state else []
            self.carried = tuple(t.to(self.device) for t in carried) if carried else None
        else:
            self._log(f"resuming a {state.world_size}-process checkpoint with {self.info.world_size} "
                      f"processes: epoch {self.progress.epoch} restarts from its first batch")
            self.progress.batches_done = 0
        self._log(f"resumed from {where}: epoch {self.progress.epoch}, step {self.progress.global_step}, "
                  f"batch {self.progress.batches_done} of the epoch")

    def _log(self, message: str) -> None:
        if self.info.is_main:
            tqdm.write(message)

    def _scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    # -------------------------------------------------------- losses
    def sample_clips(self, batch: Mapping[str, Any]) -> Iterator[tuple[Inputs, ViewTensors]]:
        """(inputs, targets) of each clip of a batch of training samples, in time order: the whole sample
        unless ``train.tbptt_clips`` > 1 cuts it into that many clips."""
        inputs, targets = self.task.inputs(batch, self.device), self.task.targets(batch, self.device)
        clips = self.clips_per_sample
        if clips == 1:
            yield inputs, targets
            return
        frames = frame_count(inputs)
        if frames % clips:
            raise ConfigError(describe("train.tbptt_clips", "training samples must hold a whole number of "
                                       "clips", found=f"{frames} frames for {clips} clips",
                                       expected=f"a multiple of {clips} frames"))
        length = frames // clips
        for start in range(0, frames, length):
            clip_targets = time_slice(targets, start, start + length)
            assert isinstance(clip_targets, dict)
            yield time_slice(inputs, start, start + length), clip_targets

    def clip_loss(self, inputs: Inputs, targets: ViewTensors,
                  state: State | None = None) -> tuple[torch.Tensor, State | None]:
        """Loss of one clip of a batch: the last frame (buffer) or the weighted mean over frames; and, with
        ``train.tbptt_clips`` > 1, the detached recurrent state at the clip's end (``state``: the state to
        start from, None for zero), else None."""
        with self.amp.autocast():
            output = self.network(inputs, state) if self.runner.carry_state else self.network(inputs)
        final = None
        if self.runner.carry_state:
            output, final = output
        logits = self.task.outputs(output)
        if self.mode == "buffer":
            return self.task.frame_loss(logits, targets), final
        weights = frame_weights(frame_count(targets), self.config.loss.cumulative_online)
        losses = [weight * self.task.frame_loss(frame_at(logits, t), frame_at(targets, t))
                  for t, weight in enumerate(weights)]
        return torch.stack(losses).sum(), final

    def _check_memory(self) -> str:
        """``train.memory_check``: probe one training sample (whole maps when crops end the run); stop before
        training when the estimated peak memory does not fit (:func:`record.train.memory.check_memory`)."""
        items = self.whole_items if self.config.train.whole_map_steps else self.items
        sample = default_collate([items[0]])
        inputs, targets = self.task.inputs(sample, self.device), self.task.targets(sample, self.device)

        def step(frames: int) -> None:
            clip_targets = targets if self.mode == "buffer" else time_slice(targets, 0, frames)
            assert isinstance(clip_targets, dict)
            loss, _ = self.clip_loss(time_slice(inputs, 0, frames), clip_targets)
            loss.backward()

        sync = contextlib.nullcontext()
        if isinstance(self.network, DistributedDataParallel):
            sync = self.network.no_sync()
        sample_bytes = sum(value.nbytes for value in sample.values() if isinstance(value, torch.Tensor))
        with sync:
            return check_memory(step, self.model, self.device, self.config.train, frames=self.geometry.length,
                                sample_bytes=sample_bytes, world_size=self.info.world_size,
                                whole=self.mode == "buffer" and isinstance(self.model, RecordNoLstm))

    # -------------------------------------------------------- loop
    def fit(self) -> TrainResult:
        """Train until ``max_epochs``, early stopping, a budget or a signal; returns where the run ended."""
        train = self.config.train
        if train.memory_check:
            self._log(self._check_memory())
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.yaml", OmegaConf.to_yaml(self.resolved))
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        dist.barrier()
        self._log(f"run {self.run_dir}: {self.config.model.name} ({self.mode}) on {self.config.dataset.name},"
                  f" {len(self.items)} training samples, {self.info.world_size} process(es) on {self.device},"
                  f" AMP {self.amp.describe()}")
        started = time.monotonic()
        stopped_by = "max_epochs"
        try:
            with _StopRequest().installed() as stop:
                if train.max_steps is not None and self.progress.global_step >= train.max_steps:
                    stopped_by = "max_steps"
                while self.progress.epoch < train.max_epochs and stopped_by == "max_epochs":
                    reason = self._train_epoch(stop, started)
                    if reason is None:
                        reason = self._end_epoch()
                    if reason is not None:
                        stopped_by = reason
                        break
        finally:
            if self.writer is not None:
                self.writer.close()
        best = self.checkpoint_dir / "best.pt"
        self._log(f"stopped ({stopped_by}) at epoch {self.progress.epoch}, step {self.progress.global_step}; "
                  f"checkpoints in {self.checkpoint_dir}")
        return TrainResult(self.run_dir, self.checkpoint_dir / "last.pt", best if best.is_file() else None,
                           self.progress, dict(self.metrics), stopped_by)

    def _batches_per_epoch(self) -> int:
        """Micro-batches per epoch and rank: batches of samples x clips per sample."""
        return math.ceil(self.sampler.num_samples / self.batch_per_rank) * self.clips_per_sample

    def _batches_this_epoch(self, total: int) -> int:
        """Micro-batches this epoch will run: its length, or fewer when ``train.max_steps`` ends the run in it
        (what the progress bar counts, so that its total and time estimate are the run's real ones)."""
        train, progress = self.config.train, self.progress
        if train.max_steps is None:
            return total
        left = max(train.max_steps - progress.global_step, 0) * train.accumulate
        return min(total, progress.batches_done + left)

    def _train_epoch(self, stop: _StopRequest, started: float) -> str | None:
        """One pass (or the rest of one); returns a reason when the run must stop before the epoch's end."""
        train, progress = self.config.train, self.progress
        epoch, total = progress.epoch, self._batches_per_epoch()
        self.sampler.set_epoch(epoch)
        skip_clips = progress.batches_done % self.clips_per_sample
        self.network.train()
        running: list[float] = []
        bar = tqdm(total=self._batches_this_epoch(total), initial=progress.batches_done,
                   desc=f"epoch {epoch}", unit="batch", disable=not (train.progress and self.info.is_main),
                   dynamic_ncols=True, leave=False)
        with bar:
            for position, inputs, targets in self._clips(self._sample_batches(epoch), skip_clips):
                if position == 0:
                    self.carried = None
                index = progress.batches_done
                group_start = index - index % train.accumulate
                group_size = min(train.accumulate, total - group_start)
                steps_now = index + 1 == group_start + group_size
                sync = contextlib.nullcontext()
                if isinstance(self.network, DistributedDataParallel) and not steps_now:
                    sync = self.network.no_sync()
                with sync:
                    loss, self.carried = self.clip_loss(inputs, targets, self.carried)
                    self.scaler.scale(loss / group_size).backward()
                running.append(_to_float(loss.detach()))
                progress.batches_done += 1
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(running):.4g}", lr=f"{self.scheduler.get_last_lr()[0]:.3g}")
                if steps_now:
                    reason = self._optimizer_step(running[-group_size:], stop, started)
                    if reason is not None:
                        return reason
        return None

    def _items_from(self, step: int) -> SeededItems:
        """Training items of a batch of samples whose first clip starts after ``step`` optimiser steps: crops
        (with ``train.crop``), whole maps in the last ``train.whole_map_steps`` steps of ``train.max_steps``."""
        train = self.config.train
        if not train.whole_map_steps:
            return self.items
        assert train.max_steps is not None  # validate_train_config
        return self.whole_items if step >= train.max_steps - train.whole_map_steps else self.items

    def _sample_batches(self, epoch: int) -> Iterator[Any]:
        """The epoch's batches of training samples from the resumed position on, each from
        :meth:`_items_from` the steps done before its first clip; the loader is rebuilt where that changes."""
        train, progress, clips = self.config.train, self.progress, self.clips_per_sample
        # a run resumes after an optimiser step: micro-batch i of an epoch starts after i // accumulate steps
        epoch_start = progress.global_step - progress.batches_done // train.accumulate
        batch = progress.batches_done // clips
        while True:
            items = self._items_from(epoch_start + batch * clips // train.accumulate)
            items.set_epoch(epoch)
            self.sampler.set_skip(batch * self.batch_per_rank)
            for samples in _loader(items, self.batch_per_rank, self.sampler, train.workers, train.seed + epoch,
                                   self.device):
                yield samples
                batch += 1
                if self._items_from(epoch_start + batch * clips // train.accumulate) is not items:
                    break
            else:
                return

    def _clips(self, batches: Iterable[Any], skip_clips: int) -> Iterator[tuple[int, Inputs, ViewTensors]]:
        """(position of the clip in its samples, inputs, targets) over batches of samples; the first batch's
        first ``skip_clips`` clips left out (a resumed run already trained on them)."""
        for batch in batches:
            for position, (inputs, targets) in enumerate(self.sample_clips(batch)):
                if position >= skip_clips:
                    yield position, inputs, targets
            skip_clips = 0

    def _optimizer_step(self, losses: list[float], stop: _StopRequest, started: float) -> str | None:
        train, progress = self.config.train, self.progress
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        progress.global_step += 1
        if train.lr_schedule == "cosine":
            self.scheduler.step()
        if self.average is not None:
            self.average.update(self.model, progress.global_step)
        if progress.global_step % train.log_every_steps == 0:
            mean = dist.all_reduce_sum(torch.tensor([np.mean(losses)], dtype=torch.float64,
                                                    device=self.device))
            self._scalar("train/loss", float(mean.item()) / self.info.world_size, progress.global_step)
            self._scalar("train/lr", self.scheduler.get_last_lr()[0], progress.global_step)
        asked = False
        if self.on_step is not None:
            asked = bool(self.on_step(progress, self.evaluated_model, float(np.mean(losses))))
        out_of_time = train.max_time_s is not None and time.monotonic() - started >= train.max_time_s
        reason = None
        if dist.any_rank(out_of_time or stop.requested or asked, self.device):
            reason = "signal" if stop.requested else "on_step" if asked else "max_time"
        elif train.max_steps is not None and progress.global_step >= train.max_steps:
            reason = "max_steps"
        periodic = train.checkpoint_every_steps and progress.global_step % train.checkpoint_every_steps == 0
        if reason is not None or periodic:
            self._save(improved=False)
        return reason

    def _end_epoch(self) -> str | None:
        train, progress = self.config.train, self.progress
        epoch = progress.epoch
        improved = False
        due = train.val_every_epochs > 0 and ((epoch + 1) % train.val_every_epochs == 0
                                              or epoch + 1 == train.max_epochs)
        if self.validation is not None and due:
            self.metrics = self.validate()
            improved = self.early_stopping.update(self.metrics)
            progress.history.append({"epoch": epoch, "step": progress.global_step, **self.metrics})
            for name, value in self.metrics.items():
                self._scalar(f"val/{name.removeprefix('val_')}", value, progress.global_step)
            shown = ", ".join(f"{name} {value:.4g}" for name, value in self.metrics.items())
            self._log(f"epoch {epoch}: {shown}{' (best)' if improved else ''}")
        if train.lr_schedule == "step":
            self.scheduler.step()
        progress.epoch += 1
        progress.batches_done = 0
        self._save(improved)
        return "early_stopping" if self.early_stopping.should_stop else None

    # -------------------------------------------------------- checkpoints
    @property
    def evaluated_model(self) -> StreamingModel:
        """The weights a run validates and saves as its model: the average with ``train.ema_decay``."""
        return self.average.module if self.average is not None else self.model

    def _save(self, improved: bool) -> None:
        """Write ``last.pt`` (and ``best.pt`` when ``improved``) on rank 0, with barriers on every rank."""
        rng = dist.all_gather_objects(capture_rng())
        between_clips = self.progress.batches_done % self.clips_per_sample != 0
        carried = [t.cpu() for t in self.carried] if between_clips and self.carried else []
        carried_state = dist.all_gather_objects(carried)
        dist.barrier()
        if self.info.is_main:
            state = TrainingState(
                optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                grad_scaler=self.scaler.state_dict(), progress=self.progress,
                early_stopping=self.early_stopping.state_dict(), rng=rng, world_size=self.info.world_size,
                carried_state=carried_state,
                trained_weights=self.model.state_dict() if self.average is not None else {},
            )
            for kind in ("last", "best") if improved else ("last",):
                save_training_checkpoint(self.checkpoint_dir / f"{kind}.pt", self.evaluated_model, state,
                                         config=self.resolved, metrics=self.metrics,
                                         code_version=self.code_version, kind=kind)
        dist.barrier()

    # -------------------------------------------------------- validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation metrics, summed over ranks: ``val_loss``; CARRADA also per-view precision and mIoU and
        ``val_global_precision`` (mean precision over the output views)."""
        assert self.validation is not None
        model = self.evaluated_model
        model.eval()
        tally = SegmentationTally(self.task.output_views) if self.task.layout == "carrada" else None
        totals = torch.zeros(2, dtype=torch.float64)
        for loss, count, logits, targets in self._validation_losses(model):
            totals += torch.tensor([loss * count, count], dtype=torch.float64)
            if tally is not None:
                tally.add(logits, targets)
        if self.average is None:
            self.model.train()
        totals = dist.all_reduce_sum(totals.to(self.device)).cpu()
        metrics = {"val_loss": float(totals[0] / totals[1]) if totals[1] else math.nan}
        if tally is not None:
            matrices = torch.from_numpy(tally.matrices())
            tally.set_matrices(dist.all_reduce_sum(matrices.to(self.device)).cpu().numpy())
            precisions = []
            for view, accumulator in tally.accumulators.items():
                scores = accumulator.metrics()
                metrics[f"val_{view}_precision"] = scores.mean_precision
                metrics[f"val_{view}_miou"] = scores.miou
                precisions.append(scores.mean_precision)
            metrics["val_global_precision"] = float(np.mean(precisions))
        return metrics

    def _validation_losses(self, model: StreamingModel
                           ) -> Iterator[tuple[float, int, ViewTensors, ViewTensors]]:
        """(mean loss, samples, logits, targets) of ``model`` per validation batch (buffer) or frame (online)
        of a rank."""
        assert self.validation is not None
        train, world, rank = self.config.train, self.info.world_size, self.info.rank
        if self.mode == "buffer":
            sampler = IndexSampler(list(range(len(self.validation)))[rank::world])  # type: ignore[arg-type]
            loader = _loader(self.validation, self.batch_per_rank, sampler, train.workers, train.seed,
                             self.device)
            window_runner = ClipRunner(model, "buffer")
            for batch in loader:
                targets = self.task.targets(batch, self.device)
                with self.amp.autocast():
                    logits = self.task.outputs(window_runner(self.task.inputs(batch, self.device)))
                loss = self.task.frame_loss(logits, targets)
                yield _to_float(loss), next(iter(targets.values())).shape[0], logits, targets
            return
        stream = self.validation
        assert isinstance(stream, SequenceDataset)
        mine = stream.sequence_names[rank::world]
        sampler = IndexSampler([i for name in mine for i in stream.samples_of(name)])
        loader = _loader(stream, 1, sampler, train.workers, train.seed, self.device)
        runner = StreamRunner(model, "online")
        for batch, logits in stream_outputs(runner, loader, self.task, self.device, self.amp.autocast):
            targets = self.task.targets(batch, self.device)
            yield _to_float(self.task.frame_loss(logits, targets)), 1, logits, targets


def train(config: DictConfig, data: RunData | None = None,
          on_step: StepCallback | None = None) -> TrainResult:
    """Run ``record train`` for a composed config (:func:`record.train.compose.compose_config`); ``data``
    replaces the datasets ``config.dataset`` describes (its layout still selects the task and loss);
    ``on_step`` (:data:`StepCallback`) sees every optimiser step and may stop the run."""
    schema = typed(config, TrainRunConfig)
    validate_train_config(schema)
    info = dist.process_info()
    device = select_device(schema.train.device, info.local_rank)
    dist.init_distributed(info, device)
    try:
        configure_threads(device, schema.train.threads)
        seed_everything(schema.train.seed, schema.train.deterministic)
        if device.type == "cuda" and not schema.train.deterministic:
            torch.backends.cudnn.benchmark = True
        return Trainer(schema, resolved_dict(config), info, device, data, on_step).fit()
    finally:
        dist.shutdown_distributed()
