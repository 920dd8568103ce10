"""The point-scatterer beat signal: exactness against a per-chirp evaluation, sign conventions, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from record.errors import InputError
from record.sensors import CARRADA, ROD2021, SPEED_OF_LIGHT_MPS
from record.sim.signal import Scatterers, beat_signal

WAVEFORM = CARRADA.waveform


def _per_chirp(waveform, scatterers: Scatterers) -> np.ndarray:
    """The model evaluated chirp by chirp, the beat tone at each chirp's own start (complex128)."""
    m, k = np.meshgrid(np.arange(waveform.n_loops), np.arange(waveform.n_tx), indexing="ij")
    t = (m * waveform.n_tx + k) * waveform.chirp_period_s  # [L, n_tx]
    positions = waveform.virtual_positions().reshape(waveform.n_tx, waveform.n_rx)
    n = np.arange(waveform.n_samples) / waveform.sample_rate_hz
    out = np.zeros((waveform.n_loops, waveform.n_tx, waveform.n_rx, waveform.n_samples), dtype=np.complex128)
    for r0, v, theta, a in zip(
        scatterers.range_m, scatterers.range_rate_mps, scatterers.azimuth_rad, scatterers.amplitude
    ):
        r = (r0 + v * t)[..., None, None]
        beat = 2.0 * waveform.slope_hz_per_s * r / SPEED_OF_LIGHT_MPS + 2.0 * v / waveform.wavelength_m
        phase = (
            2 * np.pi * beat * n
            + 4 * np.pi * r / waveform.wavelength_m
            - np.pi * np.sin(theta) * positions[..., None]
        )
        out += a * np.exp(1j * phase)
    return out


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_blocks_match_the_per_chirp_model() -> None:
    scatterers = Scatterers(
        np.array([7.3, 21.0, 33.3]),
        np.array([-9.0, 0.0, 4.5]),
        np.array([0.3, -0.6, 0.05]),
        np.array([1.0, 0.5j, 2.0]),
    )
    exact = _per_chirp(WAVEFORM, scatterers)
    assert _relative_error(beat_signal(WAVEFORM, scatterers, n_blocks=WAVEFORM.n_loops), exact) < 0.02
    assert (
        _relative_error(beat_signal(WAVEFORM, scatterers), exact) < 0.06
    )  # 8 blocks: range walk within a block


def test_still_scatterers_take_the_fast_path_consistently() -> None:
    still = Scatterers(np.array([12.0]), np.array([0.0]), np.array([0.2]), np.array([1.0 + 1.0j]))
    creeping = Scatterers(np.array([12.0]), np.array([1e-9]), np.array([0.2]), np.array([1.0 + 1.0j]))
    assert _relative_error(beat_signal(WAVEFORM, still), beat_signal(WAVEFORM, creeping)) < 1e-5


def test_sign_conventions_and_kept_loops() -> None:
    target = Scatterers(np.array([10.0]), np.array([-3.0]), np.array([0.4]), np.array([1.0]))
    cube = beat_signal(ROD2021.waveform, target, loops=ROD2021.chirp_ids)
    assert cube.shape == (4, 2, 4, 128) and cube.dtype == np.complex64
    full = beat_signal(WAVEFORM, target)
    spectrum = np.abs(np.fft.fft(full[0, 0, 0]))
    assert np.argmax(spectrum) == round(10.0 / WAVEFORM.range_bin_m(WAVEFORM.n_samples))  # positive beat tone
    # approaching: the carrier phase decreases from loop to loop
    step = np.angle(full[1, 0, 0, 0] * np.conj(full[0, 0, 0, 0]))
    expected = 4 * np.pi * -3.0 * WAVEFORM.loop_period_s / WAVEFORM.wavelength_m
    assert step == pytest.approx(np.angle(np.exp(1j * expected)), abs=1e-3)
    # positive azimuth: phase decreases along the array (Rx 0 -> Rx 1)
    element = np.angle(full[0, 0, 1, 0] * np.conj(full[0, 0, 0, 0]))
    assert element == pytest.approx(-np.pi * np.sin(0.4), abs=1e-3)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"range_m": [-1.0]}, r"range_m\[0\].*must be positive"),
        ({"range_rate_mps": [np.nan]}, r"range_rate_mps\[0\].*finite"),
        ({"azimuth_rad": [0.1, 0.2]}, "one length"),
    ],
)
def test_bad_scatterers_raise(fields: dict, match: str) -> None:
    values = {"range_m": [5.0], "range_rate_mps": [0.0], "azimuth_rad": [0.0], "amplitude": [1.0]}
    values.update(fields)
    with pytest.raises(InputError, match=match):
        Scatterers(
            *(np.asarray(values[name]) for name in ("range_m", "range_rate_mps", "azimuth_rad", "amplitude"))
        )


def test_bad_loops_raise() -> None:
    target = Scatterers(np.array([5.0]), np.array([0.0]), np.array([0.0]), np.array([1.0]))
    with pytest.raises(InputError, match="loops"):
        beat_signal(WAVEFORM, target, loops=[0, 64])
