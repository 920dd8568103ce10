"""RECORD, MV-RECORD and the no-LSTM ablations, with buffer and explicit-state online modes.

Every model returns logits and offers:

* ``forward(window)``: buffer mode, ``[B, C, T, H, W]`` (MV-RECORD: a dict ``rd``/``ra``/``ad`` of them),
  state reset at the window start, logits for the last frame;
* ``step(frame, state) -> (logits, new_state)``: online mode, a pure function of its inputs, state = tuple of
  tensors named ``model.state_names``, initial state ``model.zero_state(batch_size, height, width)``;
* ``activate(logits)`` / ``output_activation``: the published output function (sigmoid or softmax).

Build models by name with :func:`create_model` (``list_models()`` lists them); load published weights with
:func:`convert_checkpoint` or directly through ``create_model(name, checkpoint=path)``.
"""

from record.models import mv_record as _mv_record  # noqa: F401  (registers mv_record)
from record.models import record as _record  # noqa: F401  (registers record_*)
from record.models import record_nolstm as _record_nolstm  # noqa: F401  (registers record_nolstm_*)
from record.models._base import StreamingModel
from record.models._checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_FORMAT_VERSION,
    official_to_project_key,
    read_checkpoint,
    save_checkpoint,
    training_config,
)
from record.models._factory import convert_checkpoint, create_model, load_checkpoint_model
from record.models._registry import list_models, model_entrypoint, register_model
from record.models.configs import MVRecordConfig, RecordConfig, RecordNoLstmConfig
from record.models.export import StepModule
from record.models.inference import configure_cpu_inference, prepare_for_inference
from record.models.mv_record import MVRecord
from record.models.record import Record
from record.models.record_nolstm import RecordNoLstm

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "MVRecord",
    "MVRecordConfig",
    "Record",
    "RecordConfig",
    "RecordNoLstm",
    "RecordNoLstmConfig",
    "StepModule",
    "StreamingModel",
    "configure_cpu_inference",
    "convert_checkpoint",
    "create_model",
    "list_models",
    "load_checkpoint_model",
    "model_entrypoint",
    "official_to_project_key",
    "prepare_for_inference",
    "read_checkpoint",
    "register_model",
    "save_checkpoint",
    "training_config",
]
