"""Training and evaluation: Hydra configs, the (DDP-ready) training loop, checkpoints, online evaluation.

* :mod:`record.train.config` / :mod:`record.train.compose`: typed schemas and composition of ``record/conf``;
* :mod:`record.train.trainer`: :func:`~record.train.trainer.train` (``record train``);
* :mod:`record.train.evaluate`: :func:`~record.train.evaluate.evaluate` (``record evaluate``);
* building blocks: :mod:`~record.train.temporal` (clips and streams), :mod:`~record.train.losses`,
  :mod:`~record.train.tasks`, :mod:`~record.train.checkpoints`, :mod:`~record.train.sampling`,
  :mod:`~record.train.distributed`, :mod:`~record.train.synthetic`.

Import the submodules you need; this package imports nothing heavy by itself.
"""
