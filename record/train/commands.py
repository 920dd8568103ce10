"""Entry points of ``record train`` and ``record evaluate``: compose the config, then run it."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from record.train.compose import compose_config, group_options

__all__ = ["evaluate_main", "train_main"]

_TRAIN_USAGE = """usage: record train [--cfg] [key=value ...]

Train a model with Hydra overrides. Groups (pick one option each):
  dataset={datasets}
  model={models}
  mode={modes}
  experiment={experiments}   (published recipes)
Any field can be set: train.lr=1e-4 train.batch_size=8 dataset.root=/data/rod2021 run.dir=outputs/my_run
train.resume=auto (continue <run.dir>/checkpoints/last.pt) train.max_time_s=300 train.amp=off ...
Schemas with every field: record/train/config.py; YAML tree: record/conf/.

Several processes (DDP: gloo on CPU, NCCL on CUDA; train.batch_size is the global batch):
  torchrun --nproc_per_node N -m record train ...
  torchrun --nnodes M --node_rank R --nproc_per_node N --rdzv_backend c10d --rdzv_endpoint HOST:PORT \\
      --rdzv_id JOB -m record train ...      (run on every node)

--cfg prints the composed configuration and exits."""

_EVALUATE_USAGE = """usage: record evaluate [--cfg] checkpoint=PATH [key=value ...]

Run a checkpoint over the evaluation sequences (online by default; eval.mode=buffer for sliding windows) and
write metrics.json, predictions and pictures under run.dir. Without dataset=..., the checkpoint's training
dataset is used. Options: dataset={datasets} dataset.root=PATH eval.split=test eval.mode=buffer eval.window=12
eval.reset_states=false (CARRADA published parity, Q9) eval.skip_first=true eval.peak_threshold=0.3
eval.gif_frames=0 run.dir=outputs/eval ... Schema: EvaluateRunConfig in record/train/config.py."""


def _usage(template: str) -> str:
    options = {group: "|".join(group_options(group)) for group in ("dataset", "model", "mode")}
    return template.format(datasets=options["dataset"], models=options["model"], modes=options["mode"],
                           experiments="|".join(group_options("experiment")))


def _composed(config_name: str, argv: list[str], usage: str) -> DictConfig | None:
    """The composed config, or None after printing the usage (-h / --help) or the config itself (--cfg)."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(usage)
        return None
    config = compose_config(config_name, [arg for arg in argv if arg != "--cfg"])
    if "--cfg" in argv:
        print(OmegaConf.to_yaml(config, resolve=True))
        return None
    return config


def train_main(argv: list[str]) -> int:
    """``record train [key=value ...]``."""
    config = _composed("train", argv, _usage(_TRAIN_USAGE))
    if config is None:
        return 0
    from record.train.distributed import process_info
    from record.train.trainer import train

    result = train(config)
    if process_info().is_main:
        print(f"run folder: {result.run_dir.absolute()}")
    return 0


def evaluate_main(argv: list[str]) -> int:
    """``record evaluate checkpoint=PATH [key=value ...]``."""
    config = _composed("evaluate", argv, _usage(_EVALUATE_USAGE))
    if config is None:
        return 0
    from record.train.evaluate import evaluate

    print(evaluate(config).headline())
    return 0
