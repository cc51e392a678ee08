"""Tests for reading, checking and writing audio files (src/mixlab/audio/io.py).

All audio is synthesised here, in tmp_path.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import lameenc
import numpy as np
import pytest
import soundfile as sf

from mixlab.audio.buffer import AudioBuffer
from mixlab.audio.io import (
    SUPPORTED_READ,
    SUPPORTED_WRITE,
    AudioInfo,
    AudioWriter,
    decode_for_verification,
    iter_blocks,
    probe,
    read_audio,
    same_file,
    write_audio,
)
from mixlab.errors import InvalidAudioError, InvalidParameterError, ProcessingError, UnsupportedFormatError

from .conftest import freq_error_hz, sine, tone

RATES = [44100, 48000, 96000]
CHANNELS = [1, 2]
LSB16 = 2.0**-15
LSB24 = 2.0**-23


def _test_signal(sample_rate: int, num_channels: int, duration_s: float = 0.5) -> np.ndarray:
    """A 997 Hz sine at -6 dBFS plus a little noise-like detail, so every bit is exercised."""
    x = sine(freq_hz=997.0, sample_rate=sample_rate, duration_s=duration_s, num_channels=num_channels)
    detail = sine(freq_hz=5003.0, sample_rate=sample_rate, duration_s=duration_s, num_channels=num_channels, level_db=-50)
    return (x + detail).astype(np.float32)


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def _assert_error(info: pytest.ExceptionInfo, cls: type, code: str, file_name: str) -> None:
    assert isinstance(info.value, cls)
    assert info.value.code == code
    assert file_name in info.value.message
    assert info.value.details.get("file") == file_name


# ---------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("num_channels", CHANNELS)
@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize(
    ("ext", "bit_depth", "subtype", "atol"),
    [
        # 16 bit: TPDF dither (< 1 LSB) + rounding (<= 0.5 LSB).
        ("wav", "16", "PCM_16", 1.5 * LSB16 + 1e-9),
        ("flac", "16", "PCM_16", 1.5 * LSB16 + 1e-9),
        # 24 bit: rounding only, <= 0.5 LSB (the brief asks < 2^-23).
        ("wav", "24", "PCM_24", 0.5 * LSB24 + 1e-12),
        ("flac", "24", "PCM_24", 0.5 * LSB24 + 1e-12),
        ("wav", "32f", "FLOAT", 0.0),
    ],
)
def test_lossless_round_trip(
    tmp_path: Path, ext: str, bit_depth: str, subtype: str, atol: float, sample_rate: int, num_channels: int
) -> None:
    x = _test_signal(sample_rate, num_channels)
    path = tmp_path / f"out.{ext}"
    write_audio(path, AudioBuffer(x, sample_rate), bit_depth=bit_depth)
    info = probe(path)
    assert info == AudioInfo(
        path=str(path),
        format=ext,
        subtype=subtype,
        sample_rate=sample_rate,
        num_channels=num_channels,
        num_frames=x.shape[1],
        duration_s=x.shape[1] / sample_rate,
    )
    back = read_audio(path)
    assert back.sample_rate == sample_rate
    assert back.samples.dtype == np.float32 and back.samples.shape == x.shape
    np.testing.assert_allclose(back.samples, x, rtol=0, atol=atol)


def test_24_bit_error_is_below_2_to_minus_23(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.uniform(-1.0, 1.0 - LSB24, size=(2, 100_000)).astype(np.float32)
    write_audio(tmp_path / "r.wav", AudioBuffer(x, 48000), bit_depth="24")
    err = np.max(np.abs(read_audio(tmp_path / "r.wav").samples.astype(np.float64) - x))
    assert err < LSB24


@pytest.mark.parametrize("num_channels", CHANNELS)
@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("ext", ["aiff", "aif"])
def test_aiff_written_by_soundfile_reads_back(tmp_path: Path, ext: str, sample_rate: int, num_channels: int) -> None:
    x = _test_signal(sample_rate, num_channels)
    path = tmp_path / f"in.{ext}"
    sf.write(path, x.T, sample_rate, subtype="PCM_24", format="AIFF")
    info = probe(path)
    assert (info.format, info.subtype, info.num_frames) == ("aiff", "PCM_24", x.shape[1])
    # libsndfile's own float -> 24-bit conversion is not round-to-nearest: up to 1 LSB.
    np.testing.assert_allclose(read_audio(path).samples, x, rtol=0, atol=LSB24)


def _check_lossy_tone(y: np.ndarray, x: np.ndarray, sample_rate: int, *, level_tol_db: float) -> None:
    """997 Hz at -6 dBFS survives a lossy codec: same level, frequency and timing."""
    edge = int(0.05 * sample_rate)
    for c in range(x.shape[0]):
        got = tone(y[c], freq_hz=997.0, sample_rate=sample_rate, start=edge, stop=x.shape[1] - edge)
        want = tone(x[c], freq_hz=997.0, sample_rate=sample_rate, start=edge, stop=x.shape[1] - edge)
        assert abs(20 * np.log10(abs(got) / abs(want))) < level_tol_db
        assert abs(np.angle(got / want)) < 0.02  # < 0.15 sample at 44.1 kHz: time-aligned
        assert abs(freq_error_hz(y[c, edge:-edge], freq_hz=997.0, sample_rate=sample_rate)) < 0.05


@pytest.mark.parametrize("num_channels", CHANNELS)
@pytest.mark.parametrize("sample_rate", RATES)
def test_ogg_written_by_soundfile_reads_back(tmp_path: Path, sample_rate: int, num_channels: int) -> None:
    x = _test_signal(sample_rate, num_channels)
    path = tmp_path / "in.ogg"
    sf.write(path, x.T, sample_rate, format="OGG", subtype="VORBIS")
    info = probe(path)
    assert (info.format, info.subtype, info.num_frames) == ("ogg", "VORBIS", x.shape[1])
    y = read_audio(path).samples
    assert y.shape == x.shape
    _check_lossy_tone(y, x, sample_rate, level_tol_db=0.1)


@pytest.mark.parametrize("num_channels", CHANNELS)
@pytest.mark.parametrize("sample_rate", [44100, 48000, 32000])
def test_mp3_round_trip_is_gapless_and_keeps_the_tone(tmp_path: Path, sample_rate: int, num_channels: int) -> None:
    """Our MP3 carries a LAME header, so libsndfile trims delay and padding: exact length."""
    x = _test_signal(sample_rate, num_channels, duration_s=1.0)
    path = tmp_path / "master.mp3"
    with AudioWriter(path, sample_rate=sample_rate, num_channels=num_channels) as writer:
        writer.write(x[:, :1234])
        writer.write(x[:, 1234:])
    info = probe(path)
    assert (info.format, info.subtype, info.sample_rate, info.num_channels) == (
        "mp3",
        "MPEG_LAYER_III",
        sample_rate,
        num_channels,
    )
    assert info.num_frames == x.shape[1]
    y = decode_for_verification(path).samples
    assert y.shape == x.shape
    _check_lossy_tone(y, x, sample_rate, level_tol_db=0.05)
    # 320 kbps CBR: file size ~ bit rate * duration (+ one header frame).
    assert os.path.getsize(path) == pytest.approx(320_000 / 8 * 1.0, rel=0.1)


def test_mp3_without_length_header_is_counted_exactly(tmp_path: Path) -> None:
    """A bare LAME stream (no Xing/Info header): libsndfile only estimates its length, so probe
    decodes it once; the count must match what read_audio and iter_blocks deliver."""
    x = _test_signal(44100, 2, duration_s=1.0)
    pcm = np.ascontiguousarray(np.clip(np.rint(x.T * 32768), -32768, 32767).astype(np.int16))
    enc = lameenc.Encoder()
    enc.set_bit_rate(192)
    enc.set_in_sample_rate(44100)
    enc.set_channels(2)
    path = tmp_path / "bare.mp3"
    path.write_bytes(bytes(enc.encode(pcm)) + bytes(enc.flush()))
    info = probe(path)
    assert info.num_frames % 1152 == 0  # whole MPEG frames, encoder delay not trimmed
    assert 0 <= info.num_frames - x.shape[1] < 3 * 1152
    assert read_audio(path).num_samples == info.num_frames
    assert sum(b.shape[1] for b in iter_blocks(path, block_size=10_000)) == info.num_frames


def test_content_decides_the_format_not_the_extension(tmp_path: Path) -> None:
    x = _test_signal(44100, 2)
    write_audio(tmp_path / "real.flac", AudioBuffer(x, 44100), bit_depth="24")
    os.rename(tmp_path / "real.flac", tmp_path / "named.wav")
    assert probe(tmp_path / "named.wav").format == "flac"


def test_wav_after_an_id3_tag_and_with_extra_chunks(tmp_path: Path) -> None:
    """Chunks before 'data' (odd-sized, padded) and after it, found by the header walk."""
    x = _test_signal(48000, 2)
    write_audio(tmp_path / "plain.wav", AudioBuffer(x, 48000), bit_depth="16")
    raw = (tmp_path / "plain.wav").read_bytes()
    fmt_end = 12 + 8 + struct.unpack("<I", raw[16:20])[0]
    junk = b"JUNK" + struct.pack("<I", 5) + b"abcde" + b"\0"
    tail = b"LIST" + struct.pack("<I", 4) + b"INFO"
    body = raw[12:fmt_end] + junk + raw[fmt_end:] + tail
    (tmp_path / "chunky.wav").write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    np.testing.assert_array_equal(read_audio(tmp_path / "chunky.wav").samples, read_audio(tmp_path / "plain.wav").samples)


# ---------------------------------------------------------------------------------------------
# streaming


@pytest.mark.parametrize(("ext", "bit_depth"), [("wav", "16"), ("flac", "24"), ("mp3", "16"), ("wav", "32f")])
@pytest.mark.parametrize("block_size", [1, 4096, 65536])
def test_iter_blocks_concatenated_equals_read_audio(tmp_path: Path, ext: str, bit_depth: str, block_size: int) -> None:
    x = _test_signal(44100, 2, duration_s=0.3 if block_size == 1 else 2.0)
    path = tmp_path / f"a.{ext}"
    write_audio(path, AudioBuffer(x, 44100), bit_depth=bit_depth)
    blocks = list(iter_blocks(path, block_size=block_size))
    assert all(b.dtype == np.float32 and b.shape[0] == 2 and b.flags.c_contiguous for b in blocks)
    assert all(b.shape[1] == block_size for b in blocks[:-1])
    whole = read_audio(path)
    joined = np.concatenate(blocks, axis=1)
    assert joined.shape[1] == probe(path).num_frames == whole.num_samples
    np.testing.assert_array_equal(joined, whole.samples)


@pytest.mark.parametrize("ext", ["aiff", "ogg"])
def test_iter_blocks_other_formats(tmp_path: Path, ext: str) -> None:
    x = _test_signal(48000, 1, duration_s=1.5)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x.T, 48000, format=ext.upper())
    joined = np.concatenate(list(iter_blocks(path, block_size=10_000)), axis=1)
    np.testing.assert_array_equal(joined, read_audio(path).samples)


def test_iter_blocks_checks_the_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_audio(path, AudioBuffer(np.zeros((1, 48000), np.float32), 48000))
    with pytest.raises(InvalidAudioError) as info:
        iter_blocks(path, max_duration_s=0.5)  # raised by the call, before iterating
    assert info.value.code == "audio.too_long"
    with pytest.raises(InvalidParameterError):
        iter_blocks(path, block_size=0)


# ---------------------------------------------------------------------------------------------
# non-finite samples


def _float_wav_with_nan(path: Path, *, sample_rate: int, bad_index: int, value: float) -> None:
    x = _test_signal(sample_rate, 2, duration_s=2.0)
    x[1, bad_index] = value
    sf.write(path, x.T, sample_rate, subtype="FLOAT")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_in_a_float_wav_is_reported_with_its_time(tmp_path: Path, value: float) -> None:
    path = tmp_path / "plugin bounce.wav"
    _float_wav_with_nan(path, sample_rate=48000, bad_index=60000, value=value)  # 1.250 s
    with pytest.raises(InvalidAudioError) as info:
        read_audio(path)
    assert info.value.code == "audio.non_finite"
    assert info.value.details["at_s"] == pytest.approx(1.25, abs=1e-3)
    assert "plugin bounce.wav" in info.value.message and "1.250 s" in info.value.message
    # Streaming: the NaN is in the 8th block of 8000, at the same time.
    blocks = iter_blocks(path, block_size=8000)
    with pytest.raises(InvalidAudioError) as info:
        for _ in blocks:
            pass
    assert info.value.code == "audio.non_finite"
    assert info.value.details["at_s"] == pytest.approx(1.25, abs=1e-3)


# ---------------------------------------------------------------------------------------------
# bad inputs


def _cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidAudioError) as info:
        probe(tmp_path / "nowhere.wav")
    _assert_error(info, InvalidAudioError, "audio.not_found", "nowhere.wav")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "stems.wav").mkdir()
    with pytest.raises(InvalidAudioError) as info:
        read_audio(tmp_path / "stems.wav")
    _assert_error(info, InvalidAudioError, "audio.not_a_file", "stems.wav")
    assert "folder" in info.value.message


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "vocals.wav").write_bytes(b"")
    with pytest.raises(InvalidAudioError) as info:
        probe(tmp_path / "vocals.wav")
    _assert_error(info, InvalidAudioError, "audio.empty", "vocals.wav")
    assert "0 bytes" in info.value.message


def test_zero_frames(tmp_path: Path) -> None:
    sf.write(tmp_path / "nothing.wav", np.zeros((0, 2), np.float32), 44100)
    with pytest.raises(InvalidAudioError) as info:
        probe(tmp_path / "nothing.wav")
    _assert_error(info, InvalidAudioError, "audio.empty", "nothing.wav")


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype"),
    [("wav", "WAV", "PCM_24"), ("wav", "RF64", "PCM_16"), ("aiff", "AIFF", "PCM_16"), ("wav", "WAV", "FLOAT")],
)
def test_truncated_wav_and_aiff(tmp_path: Path, ext: str, fmt: str, subtype: str) -> None:
    """libsndfile would read these as shorter files; the chunk walk catches them."""
    x = _test_signal(48000, 2, duration_s=2.0)
    full = tmp_path / f"full.{ext}"
    sf.write(full, x.T, 48000, format=fmt, subtype=subtype)
    cut = _cut(full, tmp_path / f"bass.{ext}", 0.5)
    with pytest.raises(InvalidAudioError) as info:
        probe(cut)
    _assert_error(info, InvalidAudioError, "audio.truncated", f"bass.{ext}")
    assert info.value.details["expected_duration_s"] == pytest.approx(2.0, abs=0.01)
    assert info.value.details["actual_duration_s"] == pytest.approx(1.0, abs=0.02)
    assert "2.0 s" in info.value.message


@pytest.mark.parametrize("ext", ["flac", "ogg", "mp3"])
@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_truncated_compressed_files(tmp_path: Path, ext: str, fraction: float) -> None:
    x = _test_signal(44100, 2, duration_s=3.0)
    full = tmp_path / f"full.{ext}"
    if ext == "ogg":
        sf.write(full, x.T, 44100, format="OGG")
    else:
        write_audio(full, AudioBuffer(x, 44100), bit_depth="24")
    cut = _cut(full, tmp_path / f"drums.{ext}", fraction)
    with pytest.raises(InvalidAudioError) as info:
        read_audio(cut)
    _assert_error(info, InvalidAudioError, "audio.truncated", f"drums.{ext}")


def test_truncated_header(tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    write_audio(full, AudioBuffer(np.zeros((2, 1000), np.float32), 44100))
    cut = _cut(full, tmp_path / "keys.wav", 30 / os.path.getsize(full))  # 30 bytes: no 'data' chunk
    with pytest.raises(InvalidAudioError) as info:
        probe(cut)
    _assert_error(info, InvalidAudioError, "audio.truncated", "keys.wav")


def test_damaged_flac(tmp_path: Path, rng: np.random.Generator) -> None:
    full = tmp_path / "full.flac"
    write_audio(full, AudioBuffer(_test_signal(44100, 2, duration_s=3.0), 44100))
    data = bytearray(full.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 5000] = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    (tmp_path / "gtr.flac").write_bytes(bytes(data))
    with pytest.raises(InvalidAudioError) as info:
        read_audio(tmp_path / "gtr.flac")
    _assert_error(info, InvalidAudioError, "audio.corrupt", "gtr.flac")
    # The damage is at about 1.5 s; decoders fail somewhere in the block being read (~1.5 s).
    assert 0.0 <= info.value.details["after_s"] < 1.6


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"These are my lyrics.\nVerse 1\n" * 20, "text"),
        (b"<!DOCTYPE html><html><body>Access denied</body></html>", "web page"),
        (b"PK\x03\x04" + bytes(200), "ZIP"),
        (b"MThd\x00\x00\x00\x06" + bytes(100), "MIDI"),
        (bytes(range(256)) * 4, ""),
    ],
)
def test_not_an_audio_file(tmp_path: Path, content: bytes, hint: str) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(content)
    with pytest.raises(InvalidAudioError) as info:
        probe(path)
    _assert_error(info, InvalidAudioError, "audio.unreadable", "song.wav")
    assert "is not an audio file" in info.value.message
    assert hint in info.value.message


@pytest.mark.parametrize("file_name", ["song.m4a", "notes.txt", "mix.wma", "noext"])
def test_unsupported_extension(tmp_path: Path, file_name: str) -> None:
    path = tmp_path / file_name
    path.write_bytes(b"\0" * 100)
    with pytest.raises(UnsupportedFormatError) as info:
        probe(path)
    _assert_error(info, UnsupportedFormatError, "audio.unsupported_format", file_name)
    assert "WAV, AIFF, FLAC, MP3 or OGG" in info.value.message
    assert sorted(info.value.details["supported"]) == sorted(SUPPORTED_READ)


def test_unsupported_codec_in_disguise(tmp_path: Path) -> None:
    path = tmp_path / "export.mp3"
    path.write_bytes(struct.pack(">I", 32) + b"ftypM4A " + bytes(400))  # an iTunes AAC file
    with pytest.raises(UnsupportedFormatError) as info:
        probe(path)
    _assert_error(info, UnsupportedFormatError, "audio.unsupported_format", "export.mp3")
    assert "M4A" in info.value.message


def test_unsupported_codec_inside_wav(tmp_path: Path) -> None:
    data = bytes(4000)
    fmt = struct.pack("<HHIIHH", 0x2000, 2, 48000, 48000 * 4, 4, 16)  # Dolby AC-3 in WAV
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "surround.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(UnsupportedFormatError) as info:
        probe(path)
    _assert_error(info, UnsupportedFormatError, "audio.unsupported_format", "surround.wav")
    assert "AC-3" in info.value.message


def test_too_many_channels(tmp_path: Path) -> None:
    sf.write(tmp_path / "surround.wav", np.zeros((100, 6), np.float32), 48000)
    with pytest.raises(InvalidAudioError) as info:
        probe(tmp_path / "surround.wav")
    _assert_error(info, InvalidAudioError, "audio.too_many_channels", "surround.wav")
    assert "stereo or mono" in info.value.message
    assert info.value.details["num_channels"] == 6


def test_too_long(tmp_path: Path) -> None:
    write_audio(tmp_path / "jam.flac", AudioBuffer(np.zeros((2, 96000), np.float32), 48000))
    assert probe(tmp_path / "jam.flac", max_duration_s=2.0).duration_s == 2.0
    with pytest.raises(InvalidAudioError) as info:
        read_audio(tmp_path / "jam.flac", max_duration_s=1.5)
    _assert_error(info, InvalidAudioError, "audio.too_long", "jam.flac")
    assert info.value.details["duration_s"] == 2.0
    assert info.value.details["max_duration_s"] == 1.5
    with pytest.raises(InvalidParameterError):
        probe(tmp_path / "jam.flac", max_duration_s=0)


@pytest.mark.parametrize("sample_rate", [4000, 400_000])
def test_bad_sample_rate(tmp_path: Path, sample_rate: int) -> None:
    sf.write(tmp_path / "odd.wav", np.zeros((100, 1), np.float32), sample_rate)
    with pytest.raises(InvalidAudioError) as info:
        probe(tmp_path / "odd.wav")
    _assert_error(info, InvalidAudioError, "audio.bad_sample_rate", "odd.wav")
    assert info.value.details["sample_rate"] == sample_rate


def test_display_name_overrides_the_stored_name(tmp_path: Path) -> None:
    path = tmp_path / "upload-7f3a.wav"
    path.write_bytes(b"not audio at all, just text")
    with pytest.raises(InvalidAudioError) as info:
        probe(path, name="Lead Vocal.wav")
    assert "Lead Vocal.wav" in info.value.message and "7f3a" not in info.value.message


# ---------------------------------------------------------------------------------------------
# writing: all or nothing


def test_exception_inside_with_leaves_nothing(tmp_path: Path) -> None:
    x = _test_signal(44100, 2)
    with pytest.raises(RuntimeError, match="render crashed"):
        with AudioWriter(tmp_path / "master.wav", sample_rate=44100, num_channels=2) as writer:
            writer.write(x)
            assert _listing(tmp_path) == [os.path.basename(writer.partial_path)]
            assert os.path.basename(writer.partial_path).startswith(".master.wav.partial-")
            raise RuntimeError("render crashed")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3"])
def test_failed_write_keeps_the_previous_file(tmp_path: Path, ext: str) -> None:
    target = tmp_path / f"master.{ext}"
    target.write_bytes(b"previous export")
    with pytest.raises(KeyboardInterrupt):
        with AudioWriter(target, sample_rate=48000, num_channels=2) as writer:
            writer.write(_test_signal(48000, 2))
            raise KeyboardInterrupt
    assert _listing(tmp_path) == [f"master.{ext}"]
    assert target.read_bytes() == b"previous export"


def test_abort_and_close_semantics(tmp_path: Path) -> None:
    writer = AudioWriter(tmp_path / "a.flac", sample_rate=44100, num_channels=1)
    writer.write(np.zeros((1, 100), np.float32))
    writer.abort()
    writer.abort()  # idempotent
    assert _listing(tmp_path) == []
    with pytest.raises(ProcessingError) as info:
        writer.write(np.zeros((1, 100), np.float32))
    assert info.value.code == "audio.writer_closed"

    writer = AudioWriter(tmp_path / "b.wav", sample_rate=44100, num_channels=1)
    writer.write(np.zeros((1, 100), np.float32))
    writer.close()
    writer.close()  # idempotent
    writer.abort()  # no effect once closed
    assert _listing(tmp_path) == ["b.wav"]


def test_nan_in_output_discards_the_file(tmp_path: Path) -> None:
    x = _test_signal(48000, 2, duration_s=1.0)
    x[0, 24000] = np.nan
    with pytest.raises(ProcessingError) as info:
        with AudioWriter(tmp_path / "m.wav", sample_rate=48000, num_channels=2) as writer:
            writer.write(x[:, :1000])
            writer.write(x[:, 1000:])
    assert info.value.code == "audio.non_finite_output"
    assert info.value.details["at_s"] == pytest.approx(0.5)
    assert _listing(tmp_path) == []


def test_written_file_gets_normal_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    write_audio(tmp_path / "m.wav", AudioBuffer(np.zeros((1, 10), np.float32), 44100))
    assert os.stat(tmp_path / "m.wav").st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("file_name", ["master.aiff", "master.ogg", "master.m4a", "master"])
def test_unsupported_output_format(tmp_path: Path, file_name: str) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        AudioWriter(tmp_path / file_name, sample_rate=44100, num_channels=2)
    _assert_error(info, UnsupportedFormatError, "audio.unsupported_format", file_name)
    assert "WAV, FLAC or MP3" in info.value.message
    assert sorted(info.value.details["supported"]) == sorted(SUPPORTED_WRITE)
    assert _listing(tmp_path) == []


def test_mp3_rate_and_channel_limits(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        AudioWriter(tmp_path / "hires.mp3", sample_rate=96000, num_channels=2)
    _assert_error(info, UnsupportedFormatError, "audio.unsupported_rate", "hires.mp3")
    assert "WAV or FLAC" in info.value.message and "44.1 or 48 kHz" in info.value.message
    with pytest.raises(InvalidParameterError):
        AudioWriter(tmp_path / "multi.mp3", sample_rate=48000, num_channels=3)
    with pytest.raises(ProcessingError) as perr:
        with AudioWriter(tmp_path / "nothing.mp3", sample_rate=48000, num_channels=2):
            pass
    assert perr.value.code == "audio.empty_output"
    assert _listing(tmp_path) == []


def test_bit_depth_rules(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        AudioWriter(tmp_path / "m.flac", sample_rate=44100, num_channels=2, bit_depth="32f")
    _assert_error(info, UnsupportedFormatError, "audio.unsupported_bit_depth", "m.flac")
    for bad in ("8", "32", "float"):
        with pytest.raises(InvalidParameterError) as perr:
            AudioWriter(tmp_path / "m.wav", sample_rate=44100, num_channels=2, bit_depth=bad)
        assert perr.value.code == "parameter.bad_bit_depth"
    with pytest.raises(InvalidParameterError):
        AudioWriter(tmp_path / "m.wav", sample_rate=1000, num_channels=2)
    with pytest.raises(InvalidParameterError) as perr:
        AudioWriter(tmp_path / "missing" / "m.wav", sample_rate=44100, num_channels=2)
    assert perr.value.code == "audio.output_folder_missing"
    assert _listing(tmp_path) == []


def test_bad_block_shape(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError) as info:
        with AudioWriter(tmp_path / "m.wav", sample_rate=44100, num_channels=2) as writer:
            writer.write(np.zeros(100, np.float32))
    assert info.value.code == "audio.bad_shape"
    assert _listing(tmp_path) == []


def test_clipping_for_integer_formats_only(tmp_path: Path) -> None:
    x = np.array([[0.5, 1.5, -2.0, 1.0, -1.0]], np.float32)
    for bit_depth in ("16", "24"):
        with AudioWriter(tmp_path / f"c{bit_depth}.wav", sample_rate=44100, num_channels=1, bit_depth=bit_depth) as w:
            w.write(x)
        assert w.num_clipped_samples == 2
        y = read_audio(tmp_path / f"c{bit_depth}.wav").samples[0]
        assert y.max() <= 1.0 and y.min() >= -1.0
        assert y[1] == pytest.approx(1.0, abs=2 * LSB16) and y[2] == -1.0
    with AudioWriter(tmp_path / "f.wav", sample_rate=44100, num_channels=1, bit_depth="32f") as w:
        w.write(x)
    assert w.num_clipped_samples == 0
    np.testing.assert_array_equal(read_audio(tmp_path / "f.wav").samples, x)


@pytest.mark.parametrize("ext", ["wav", "mp3"])
def test_output_is_deterministic_and_independent_of_blocks(tmp_path: Path, ext: str) -> None:
    x = _test_signal(44100, 2, duration_s=1.0)
    write_audio(tmp_path / f"one.{ext}", AudioBuffer(x, 44100), bit_depth="16", dither_seed=3)
    with AudioWriter(tmp_path / f"many.{ext}", sample_rate=44100, num_channels=2, bit_depth="16", dither_seed=3) as w:
        for start in range(0, x.shape[1], 7777):
            w.write(x[:, start : start + 7777])
    assert (tmp_path / f"one.{ext}").read_bytes() == (tmp_path / f"many.{ext}").read_bytes()
    write_audio(tmp_path / f"other.{ext}", AudioBuffer(x, 44100), bit_depth="16", dither_seed=4)
    assert (tmp_path / f"one.{ext}").read_bytes() != (tmp_path / f"other.{ext}").read_bytes()


def test_same_file(tmp_path: Path) -> None:
    a = tmp_path / "mix.wav"
    a.write_bytes(b"x")
    os.symlink(a, tmp_path / "link.wav")
    assert same_file(a, tmp_path / "link.wav")
    assert same_file(a, tmp_path / "sub" / ".." / "mix.wav")
    assert not same_file(a, tmp_path / "master.wav")
    assert same_file(tmp_path / "new.wav", tmp_path / "." / "new.wav")  # neither exists


def test_decode_for_verification_reports_our_failure(tmp_path: Path) -> None:
    (tmp_path / "broken.mp3").write_bytes(b"\xff\xfb\x90\x64" + bytes(50))
    with pytest.raises(ProcessingError) as info:
        decode_for_verification(tmp_path / "broken.mp3")
    assert info.value.code == "audio.verify_failed"
    assert info.value.details["cause"].startswith("audio.")
