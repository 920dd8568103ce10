"""DCA1000 capture reader / writer: lane interleave, round trips, and the errors on bad files and inputs."""

from __future__ import annotations

import numpy as np
import pytest

from record.dsp.adc import AdcCapture, frame_nbytes, read_adc, write_adc
from record.dsp.chain import CarradaChain
from record.errors import ConfigError, DataFormatError, InputError
from record.sensors import CARRADA, ROD2021, Waveform

from .scenes import point_target


def _waveform(n_loops: int = 2, n_tx: int = 2, n_rx: int = 2, n_samples: int = 4) -> Waveform:
    return Waveform(
        carrier_frequency_hz=77e9,
        slope_hz_per_s=30e12,
        sample_rate_hz=10e6,
        n_samples=n_samples,
        n_loops=n_loops,
        chirp_period_s=40e-6,
        frame_period_s=0.05,
        tx_positions=tuple(float(4 * k) for k in range(n_tx)),
        rx_positions=tuple(float(k) for k in range(n_rx)),
    )


def _integer_frames(rng: np.random.Generator, shape: tuple[int, ...], scale: int = 30000) -> np.ndarray:
    parts = rng.integers(-scale, scale + 1, size=shape + (2,))
    return (parts[..., 0] + 1j * parts[..., 1]).astype(np.complex64)


def test_lane_interleave_matches_hand_built_words(tmp_path) -> None:
    """Words [I(n), I(n+1), Q(n), Q(n+1)]; frame order chirp (loop * n_tx + tx), then Rx, then samples."""
    waveform = _waveform()
    n_complex = 2 * 2 * 2 * 4
    words = []
    for k in range(n_complex // 2):  # sample q carries I = q + 1, Q = -(q + 1)
        q0, q1 = 2 * k + 1, 2 * k + 2
        words += [q0, q1, -q0, -q1]
    path = tmp_path / "hand.bin"
    np.array(words * 3, dtype="<i2").tofile(path)  # three identical frames

    frames = read_adc(path, waveform)
    assert frames.shape == (3, 2, 2, 2, 4) and frames.dtype == np.complex64
    loop, tx, rx, sample = np.meshgrid(*(np.arange(n) for n in (2, 2, 2, 4)), indexing="ij")
    q = (((loop * 2 + tx) * 2 + rx) * 4 + sample) + 1
    np.testing.assert_array_equal(frames[1], (q - 1j * q).astype(np.complex64))
    # the writer produces exactly the hand-built words
    write_adc(tmp_path / "again.bin", frames, waveform)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "again.bin", dtype="<i2"), np.array(words * 3))


def test_round_trip_is_exact_for_int16_values(tmp_path) -> None:
    frames = _integer_frames(np.random.default_rng(0), (3, 64, 2, 4, 256))
    frames[0, 0, 0, 0, :2] = [-32768 + 32767j, 32767 - 32768j]  # the int16 extremes survive
    path = tmp_path / "capture.bin"
    write_adc(path, frames, CARRADA.waveform)
    assert path.stat().st_size == 3 * frame_nbytes(CARRADA.waveform) == 3 * 524288
    np.testing.assert_array_equal(read_adc(path, CARRADA.waveform), frames)


def test_writer_rounds_to_nearest_integer(tmp_path) -> None:
    waveform = _waveform()
    values = np.random.default_rng(1).normal(scale=300.0, size=(2, 2, 2, 2, 4, 2))
    frames = values[..., 0] + 1j * values[..., 1]
    write_adc(tmp_path / "q.bin", frames, waveform)
    expected = np.rint(values[..., 0]) + 1j * np.rint(values[..., 1])
    np.testing.assert_array_equal(read_adc(tmp_path / "q.bin", waveform), expected.astype(np.complex64))


def test_overflow_policy(tmp_path) -> None:
    waveform = _waveform()
    frame = np.zeros((2, 2, 2, 4), np.complex64)
    frame[1, 0, 1, 2] = 40000.0 - 50000.0j
    with pytest.raises(InputError, match=r"2 I/Q values overflow int16.*50000"):
        write_adc(tmp_path / "o.bin", frame, waveform)
    assert not (tmp_path / "o.bin").exists()
    write_adc(tmp_path / "o.bin", frame, waveform, overflow="clip")
    assert read_adc(tmp_path / "o.bin", waveform)[0, 1, 0, 1, 2] == 32767 - 32768j
    with pytest.raises(ConfigError, match="overflow policy"):
        write_adc(tmp_path / "o.bin", frame, waveform, overflow="wrap")


def test_memory_mapped_access_and_batches(tmp_path) -> None:
    waveform = _waveform(n_loops=3)
    frames = _integer_frames(np.random.default_rng(2), (7, 3, 2, 2, 4))
    write_adc(tmp_path / "big.bin", frames, waveform)
    capture = AdcCapture(tmp_path / "big.bin", waveform, n_frames=7)
    assert len(capture) == 7
    np.testing.assert_array_equal(capture[-1], frames[6])
    np.testing.assert_array_equal(capture.read(2, 5), frames[2:5])
    batches = list(capture.iter_frames(batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(batches), frames)
    with pytest.raises(IndexError, match="big.bin"):
        capture[7]


def test_truncated_file_names_sizes(tmp_path) -> None:
    path = tmp_path / "cut.bin"
    write_adc(path, np.zeros((2, 64, 2, 4, 256), np.complex64), CARRADA.waveform)
    with open(path, "r+b") as handle:
        handle.truncate(2 * 524288 - 100)
    with pytest.raises(DataFormatError, match=r"cut\.bin.*1048476 B = 1 frames \+ 524188 B.*524288 B frames"):
        AdcCapture(path, CARRADA.waveform)
    path.write_bytes(b"")
    with pytest.raises(DataFormatError, match="0 B = 0 frames"):
        AdcCapture(path, CARRADA.waveform)


def test_wrong_waveform_or_frame_count_is_reported(tmp_path) -> None:
    path = tmp_path / "carrada.bin"
    write_adc(path, np.zeros((3, 64, 2, 4, 256), np.complex64), CARRADA.waveform)
    rod_frames = r"1044480 B frames \(255 loops x 2 tx x 4 rx x 128"
    with pytest.raises(DataFormatError, match=r"carrada\.bin.*" + rod_frames):
        read_adc(path, ROD2021.waveform)
    with pytest.raises(DataFormatError, match="found 3 .*expected 5 frames"):
        AdcCapture(path, CARRADA.waveform, n_frames=5)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((1, 64, 2, 4, 256), np.int16), "complex numpy array.*int16"),
        (np.zeros((1, 64, 2, 4, 256), np.float64), "complex numpy array.*float64"),
        (np.zeros((1, 64, 8, 256), np.complex64), r"found \[1, 64, 8, 256\].*\[frames, 64, 2, 4, 256\]"),
        (np.zeros((1, 63, 2, 4, 256), np.complex64), "do not match the waveform"),
    ],
)
def test_writer_rejects_bad_frames(tmp_path, frames, message) -> None:
    with pytest.raises(InputError, match=message):
        write_adc(tmp_path / "bad.bin", frames, CARRADA.waveform)
    assert not (tmp_path / "bad.bin").exists()


def test_writer_rejects_non_finite_values_and_keeps_existing_file(tmp_path) -> None:
    path = tmp_path / "keep.bin"
    good = _integer_frames(np.random.default_rng(3), (2, 64, 2, 4, 256))
    write_adc(path, good, CARRADA.waveform)
    bad = good.copy()
    bad[1, 5, 0, 3, 9] = complex(np.nan, 1.0)
    with pytest.raises(InputError, match="frame 1: samples hold NaN or infinite"):
        write_adc(path, bad, CARRADA.waveform)
    np.testing.assert_array_equal(read_adc(path, CARRADA.waveform), good)  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin"]  # no temporary left behind


def test_odd_sample_count_cannot_be_two_lane(tmp_path) -> None:
    waveform = _waveform(n_loops=1, n_tx=1, n_rx=1, n_samples=3)
    with pytest.raises(ConfigError, match="even number of complex samples"):
        write_adc(tmp_path / "odd.bin", np.zeros((1, 1, 1, 3), np.complex64), waveform)


def test_written_capture_processes_like_the_simulated_cube(tmp_path) -> None:
    """Simulated frame -> int16 file -> reader -> chain: the target stays in its bins."""
    frame = point_target(CARRADA, 25.0, -2.0, 0.4) * 50.0
    write_adc(tmp_path / "sim.bin", frame, CARRADA.waveform)
    chain = CarradaChain()
    from_file = chain(read_adc(tmp_path / "sim.bin", CARRADA.waveform)).rd_raw[0]
    direct = chain(frame).rd_raw[0]
    assert np.argmax(from_file) == np.argmax(direct)
    assert from_file.max() == pytest.approx(direct.max(), rel=1e-3)
