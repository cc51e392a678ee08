"""The one audio type of mixlab: samples with their sample rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixlab.errors import InvalidAudioError, InvalidParameterError


@dataclass(frozen=True)
class AudioBuffer:
    """Audio samples with the rate they were sampled at.

    Parameters
    ----------
    samples : np.ndarray
        ``float32``, shape ``(num_channels, num_samples)``. Mono is ``(1, n)``.
    sample_rate : int
        Samples per second per channel, in Hz.
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise InvalidParameterError(
                f"audio must have shape (channels, samples), got {self.samples.shape}",
                code="audio.bad_shape",
            )
        if self.samples.dtype != np.float32:
            object.__setattr__(self, "samples", self.samples.astype(np.float32))
        if int(self.sample_rate) <= 0:
            raise InvalidParameterError(
                f"sample rate must be positive, got {self.sample_rate}", code="audio.bad_rate"
            )

    @property
    def num_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / float(self.sample_rate)


def check_finite(samples: np.ndarray, *, name: str, offset_s: float = 0.0, sample_rate: int) -> None:
    """Raise :class:`InvalidAudioError` if ``samples`` holds NaN or infinity.

    The message names ``name`` (usually the file) and the time of the first bad sample.
    """
    finite = np.isfinite(samples)
    if finite.all():
        return
    first = int(np.argmin(finite.all(axis=0)))
    at_s = offset_s + first / float(sample_rate)
    raise InvalidAudioError(
        f"{name}: contains invalid samples (NaN or infinity) at {at_s:.3f} s. "
        "The file is damaged or was written by a faulty plug-in; re-export it from your DAW.",
        code="audio.non_finite",
        file=str(name),
        at_s=round(at_s, 3),
    )
