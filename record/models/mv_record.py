"""MV-RECORD: multi-view RECORD for CARRADA semantic segmentation (range-Doppler and range-angle outputs).

Three RECORD encoders (RD, RA, AD frames), temporal multi-view skip connections through shared 1x1
convolutions, and two "-S" decoders (64/32/16) producing RD and RA logits. Published as ``mv_record.yaml``
("mv-record-s") in github.com/colindecourt/record @ 52b6f37; parameter names follow that code.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from record.errors import InputError, describe
from record.models._base import RecurrentModel, State
from record.models._registry import build_model_with_config, register_model
from record.models._validation import check_frame, check_window
from record.models.configs import ISOTROPIC_STRIDES, RANGE_DOPPLER_STRIDES, MVRecordConfig
from record.models.record import ENCODER_STAGES, Features, Record, RecordDecoder, RecordEncoder

__all__ = ["INPUT_VIEWS", "OUTPUT_VIEWS", "MVRecord"]

#: Input views (range-Doppler, range-angle, angle-Doppler) and output views, in concatenation order.
INPUT_VIEWS = ("rd", "ra", "ad")
OUTPUT_VIEWS = ("rd", "ra")
#: RA frames are this many times as wide as RD / AD frames (angle bins vs Doppler bins).
RA_WIDTH_FACTOR = 4
_VIEW_STRIDES = {"rd": RANGE_DOPPLER_STRIDES, "ra": ISOTROPIC_STRIDES, "ad": RANGE_DOPPLER_STRIDES}

ViewFeatures = dict[str, Features]


class MVRecord(RecurrentModel[ViewFeatures]):
    """MV-RECORD.

    * ``forward({"rd": x_rd, "ra": x_ra, "ad": x_ad})``: buffer mode; ``x_rd``, ``x_ad`` ``[B, C, T, H, W]``,
      ``x_ra`` ``[B, C, T, H, 4W]`` -> ``{"rd": [B, n, H, W], "ra": [B, n, H, 4W]}`` logits for the last
      frame.
    * ``step(frames, state)``: the same dict with one frame per view (``[B, C, H, W]``) and the flat state
      ``(rd_h1, rd_c1, rd_h2, rd_c2, ra_h1, ..., ad_c2)`` -> ``(logits dict, new_state)``.

    ``zero_state(batch_size, height, width)`` and ``state_shapes`` take the RD frame size (H range bins x W
    Doppler bins); H must be divisible by 8 and W by 2. Logits carry no activation, as published;
    ``activate`` applies the softmax over classes.

    Unlike the published buffer model, which loops over its configured ``win_size`` whatever the input's T,
    ``forward`` uses every frame of the window it is given.
    """

    state_names = tuple(f"{view}_{name}" for view in INPUT_VIEWS for name in Record.state_names)
    input_views = INPUT_VIEWS
    output_views = OUTPUT_VIEWS

    def __init__(self, config: MVRecordConfig) -> None:
        super().__init__(config)
        f1_channels, f2_channels, z_channels = (ENCODER_STAGES[i][0] for i in (1, 2, 3))
        n_views = len(INPUT_VIEWS)
        self.rd_encoder = RecordEncoder(config.in_channels, _VIEW_STRIDES["rd"])
        self.ra_encoder = RecordEncoder(config.in_channels, _VIEW_STRIDES["ra"])
        self.ad_encoder = RecordEncoder(config.in_channels, _VIEW_STRIDES["ad"])
        self.skip_connection_lstm1_conv = nn.Conv2d(n_views * f1_channels, f1_channels, kernel_size=1)
        self.skip_connection_lstm2_conv = nn.Conv2d(n_views * f2_channels, f2_channels, kernel_size=1)
        latent = n_views * z_channels
        widths, n_classes = config.decoder_channels, config.n_classes
        self.rd_decoder = RecordDecoder(latent, widths, n_classes, _VIEW_STRIDES["rd"])
        self.ra_decoder = RecordDecoder(latent, widths, n_classes, _VIEW_STRIDES["ra"])

    def decoders(self) -> tuple[RecordDecoder, ...]:
        return self.rd_decoder, self.ra_decoder

    def _encoder(self, view: str) -> RecordEncoder:
        return getattr(self, f"{view}_encoder")

    def view_sizes(self, height: int, width: int) -> dict[str, tuple[int, int]]:
        """Frame size of every input view given the RD frame size ``height x width``."""
        return {"rd": (height, width), "ra": (height, RA_WIDTH_FACTOR * width), "ad": (height, width)}

    def state_shapes(self, batch_size: int, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        where = self._where("state_shapes", "RD frame size")
        self._check_size(where, height, width, self.rd_encoder.total_stride)
        sizes = self.view_sizes(height, width)
        per_view = (self._encoder(view).state_shapes(batch_size, *sizes[view]) for view in INPUT_VIEWS)
        return tuple(shape for shapes in per_view for shape in shapes)

    def _check_views(self, inputs: object, method: str, with_time: bool) -> tuple[int, ...]:
        """Check the view dict; return ``(B, [T,] H, W)`` with H x W the RD size."""
        where = self._where(method, "inputs")
        if not isinstance(inputs, Mapping) or set(inputs) != set(INPUT_VIEWS):
            found = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
            expected = list(INPUT_VIEWS)
            raise InputError(describe(where, "expected a dict of views", found=found, expected=expected))
        check = check_window if with_time else check_frame
        dims = {view: check(inputs[view], self._where(method, f"inputs[{view!r}]"),
                            self._frame_spec(self.config.in_channels, self._encoder(view).total_stride))
                for view in INPUT_VIEWS}
        *leading, height, width = dims["rd"]
        for view, size in self.view_sizes(height, width).items():
            expected = (*leading, *size)
            if dims[view] != expected:
                raise InputError(describe(
                    self._where(method, f"inputs[{view!r}]"),
                    "views disagree (RA must be 4x as wide as RD/AD; same batch, frames and range bins)",
                    found=list(dims[view]), expected=f"{list(expected)} (from RD {list(dims['rd'])})"))
        return dims["rd"]

    def _check_window(self, x: Mapping[str, Tensor]) -> tuple[int, int, int, int]:
        batch, window, height, width = self._check_views(x, "forward", with_time=True)
        return batch, window, height, width

    def _check_frame(self, frame: Mapping[str, Tensor]) -> tuple[int, int, int]:
        batch, height, width = self._check_views(frame, "step", with_time=False)
        return batch, height, width

    def _frame_at(self, x: Mapping[str, Tensor], t: int) -> dict[str, Tensor]:
        return {view: x[view][:, :, t] for view in INPUT_VIEWS}

    def _encode(self, frame: Mapping[str, Tensor], state: State) -> tuple[ViewFeatures, State]:
        per_view = len(Record.state_names)
        features: ViewFeatures = {}
        new_state: list[Tensor] = []
        for index, view in enumerate(INPUT_VIEWS):
            view_state = state[index * per_view:(index + 1) * per_view]
            features[view], updated = self._encoder(view)(frame[view], view_state)
            new_state.extend(updated)
        return features, tuple(new_state)

    def _decode(self, features: ViewFeatures) -> dict[str, Tensor]:
        (z_rd, h2_rd, h1_rd), (z_ra, h2_ra, h1_ra), (z_ad, h2_ad, h1_ad) = (features[v] for v in INPUT_VIEWS)
        latent = torch.cat((z_rd, z_ra, z_ad), dim=1)
        skip2 = self.skip_connection_lstm2_conv(torch.cat((h2_rd, h2_ra, h2_ad), dim=1))
        ra_to_rd = F.avg_pool2d(h1_ra, kernel_size=(1, 2))
        skip1_rd = self.skip_connection_lstm1_conv(torch.cat((h1_rd, ra_to_rd, h1_ad), dim=1))
        rd_to_ra, ad_to_ra = (F.interpolate(h, scale_factor=(1, 2), mode="nearest") for h in (h1_rd, h1_ad))
        skip1_ra = self.skip_connection_lstm1_conv(torch.cat((rd_to_ra, h1_ra, ad_to_ra), dim=1))
        rd_logits = self.rd_decoder(latent, skip2, skip1_rd)
        return {"rd": rd_logits, "ra": self.ra_decoder(latent, skip2, skip1_ra)}


@register_model
def mv_record(**overrides: object) -> MVRecord:
    """MV-RECORD(-S) for CARRADA: RD 256x64, RA 256x256, AD 256x64 -> RD and RA logits, softmax, T = 5."""
    return build_model_with_config(MVRecord, "mv_record", MVRecordConfig(), overrides)
