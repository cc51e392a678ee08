"""Running block processors over a stream with their latency compensated."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import scipy.signal

# Filter state below this is flushed to zero between blocks: -500 dB, far below any output
# format, and it keeps an IIR decaying through silence out of subnormal floats (which the FPU
# handles some 35x slower: a stem with long silences took 25 s to EQ instead of 0.7).
STATE_FLOOR = 1e-25


def sosfilt_block(sos: np.ndarray, block: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.sosfilt`` along the last axis with state ``zi``; returns (out, new state).

    The new state has its negligible values (below :data:`STATE_FLOOR`) set to exactly zero.
    """
    out, zf = scipy.signal.sosfilt(sos, block, axis=-1, zi=zi)
    zf[np.abs(zf) < STATE_FLOOR] = 0.0
    return out, zf


def run_compensated(
    blocks: Iterable[np.ndarray],
    process: Callable[[np.ndarray], np.ndarray],
    *,
    latency_samples: int,
    block_multiple: int = 1,
) -> Iterator[np.ndarray]:
    """Yield ``process`` applied to ``blocks`` with its latency removed.

    ``process`` must return as many samples as it is given, delayed by ``latency_samples``.
    The first ``latency_samples`` output samples are dropped and zeros are fed at the end to
    flush the tail, so the output has exactly as many samples as the input, aligned with it.
    The last input block and the flush are zero-padded to a multiple of ``block_multiple``
    (for processors that work in whole control frames); the padding is trimmed away.
    """
    to_skip = latency_samples
    total_in = 0
    total_out = 0
    num_rows = None

    def emit(out: np.ndarray) -> Iterator[np.ndarray]:
        nonlocal to_skip, total_out
        if to_skip:
            cut = min(to_skip, out.shape[1])
            out = out[:, cut:]
            to_skip -= cut
        keep = min(out.shape[1], total_in - total_out)
        if keep > 0:
            total_out += keep
            yield out[:, :keep]

    pending: np.ndarray | None = None
    for block in blocks:
        if pending is not None:
            yield from emit(process(pending))
        pending = block
        num_rows = block.shape[0]
        total_in += block.shape[1]
    if pending is None:
        return
    pad = (-pending.shape[1]) % block_multiple
    if pad:
        pending = np.concatenate([pending, np.zeros((num_rows, pad), dtype=pending.dtype)], axis=1)
    yield from emit(process(pending))
    flush = latency_samples + (-latency_samples) % block_multiple
    if flush:
        yield from emit(process(np.zeros((num_rows, flush), dtype=np.float32)))


_DONE = object()


def run_ahead(blocks: Iterable[np.ndarray], *, depth: int = 2) -> Iterator[np.ndarray]:
    """Yield ``blocks`` while a background thread computes the next ones (at most ``depth`` ahead).

    NumPy and SciPy release the GIL in their heavy loops, so two stages of a chain run on two
    cores. An exception in the producer is raised here, in the consumer; if the consumer stops
    early, the producer is told to stop.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for block in blocks:
                while not stop.is_set():
                    try:
                        q.put(block, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=produce, name="mixlab-run-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
