"""Voice partials of a recording of any length, worked out block by block in bounded memory.

:func:`stream_partials` gives what ``embed_partials(find_speech(decode_audio(path)))`` gives, without
ever holding the whole recording: a 3-hour podcast is 690 MB of 16 kHz samples, but its partials are
14 MB. Each step keeps across blocks only what it needs to finish the next one:

- speech detection: one detector hears the whole recording (it adapts as it goes), and a window's
  keep-or-drop decision waits for the windows after it that it depends on (:func:`voice.keep_windows`);
- loudness: speech is normalised in the same 10 s blocks of speech as :func:`voice.normalise_speech`,
  each block once it is complete;
- partials: one is embedded once all its mel frames are those of the whole speech; the speech from
  just before the next partial (under 2.5 s) waits for the next block.

So partials keep their places on the speech and their times in the file across block boundaries. A
recording of one block gets exactly the whole-recording functions' results. On a longer one, the one
difference is the level the detector hears: a quiet recording is raised to -30 dBFS as measured over
what has been decoded so far, not over the whole file, which is not known yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from enrollment import voice
from enrollment.media import SAMPLE_RATE_HZ
from enrollment.settings import VoiceSettings
from enrollment.voice import (
    EMBEDDING_SIZE,
    KEEP_CONTEXT_WINDOWS,
    LENIENT_VAD,
    MEL_HOP_SAMPLES,
    MEL_WINDOW_SAMPLES,
    PARTIAL_FRAMES,
    VAD_WINDOW_SAMPLES,
    Partials,
)

BLOCK_S = 180.0  # decoded audio worked on at once: 11.5 MB of samples, about 60 MB of arrays at a block's peak
BLOCK_SAMPLES = int(BLOCK_S * SAMPLE_RATE_HZ) // VAD_WINDOW_SAMPLES * VAD_WINDOW_SAMPLES  # whole VAD windows
RETRY_BELOW_SAMPLES = voice.LENIENT_RETRY_BELOW_S * SAMPLE_RATE_HZ


@dataclass(frozen=True)
class StreamedVoice:
    """``partials``: as :func:`voice.embed_partials` gives them; ``speech_s``: seconds of speech kept;
    ``duration_s``: seconds of audio decoded."""

    partials: Partials
    speech_s: float
    duration_s: float


def stream_partials(chunks: Iterable[np.ndarray], settings: VoiceSettings,
                    block_samples: int = BLOCK_SAMPLES) -> StreamedVoice:
    """The partials of a recording given as consecutive chunks of float32 mono 16 kHz samples (any sizes,
    e.g. :func:`enrollment.media.iter_audio_chunks`), worked out ``block_samples`` at a time (a multiple
    of 480, a VAD window).

    :func:`voice.find_speech`'s lenient retry is kept: the lenient detector follows along until the
    strict one has kept enough speech for find_speech not to ask it, and its partials are taken if the
    strict one never did and it kept more.
    """
    if block_samples % VAD_WINDOW_SAMPLES:
        raise ValueError(f"block_samples must be a multiple of {VAD_WINDOW_SAMPLES}, not {block_samples}")
    strict = _VoicePath(settings.vad_aggressiveness, settings)
    lenient = _VoicePath(LENIENT_VAD, settings) if settings.vad_aggressiveness > LENIENT_VAD else None
    level = _Level()
    n_samples = 0
    for block, final in _blocks(chunks, block_samples):
        n_samples += block.size
        wav = block[: block.size - block.size % VAD_WINDOW_SAMPLES]  # whole windows only, as find_speech
        heard = level.louder(wav)
        strict.push(wav, heard, level.first_dbfs, final)
        if lenient is not None and strict.speech_samples >= RETRY_BELOW_SAMPLES:
            lenient = None  # the strict detector has kept enough: find_speech would not ask again
        if lenient is not None:
            lenient.push(wav, heard, level.first_dbfs, final)
    chosen = lenient if lenient is not None and lenient.speech_samples > strict.speech_samples else strict
    return StreamedVoice(chosen.partials(), chosen.speech_samples / SAMPLE_RATE_HZ, n_samples / SAMPLE_RATE_HZ)


def _blocks(chunks: Iterable[np.ndarray], block_samples: int) -> Iterator[tuple[np.ndarray, bool]]:
    """``(block, is_last)``: the chunks regrouped into blocks of ``block_samples``, the last one shorter
    (possibly empty), clipped to [-1, 1] as :func:`enrollment.media.decode_audio` clips."""
    pending: list[np.ndarray] = []
    n_pending = 0
    for chunk in chunks:
        pending.append(chunk)
        n_pending += chunk.size
        if n_pending > block_samples:  # more than a block: the full ones are not the last
            joined = np.concatenate(pending)
            pending.clear()  # one copy of the samples at a time
            n_full = (joined.size - 1) // block_samples
            np.clip(joined, -1.0, 1.0, out=joined)
            for start in range(0, n_full * block_samples, block_samples):
                yield joined[start : start + block_samples], False
            pending = [joined[n_full * block_samples :].copy()]  # the copy lets ``joined`` go
            n_pending = pending[0].size
    last = np.concatenate(pending) if pending else np.zeros(0, np.float32)
    yield np.clip(last.astype(np.float32, copy=False), -1.0, 1.0), True


class _Level:
    """The level of everything decoded so far, which is what the detector's input is raised by."""

    def __init__(self) -> None:
        self._sum_squares, self._n_samples = 0.0, 0
        self.first_dbfs: float | None = None  # the first block's level

    def louder(self, wav: np.ndarray) -> np.ndarray:
        """``wav`` as :func:`voice.louder_for_vad` raises it, by the level of all samples up to its end.
        For the first block that is its own level, computed as :func:`voice.rms_dbfs` does."""
        self._sum_squares += float(np.sum(np.square(wav, dtype=np.float64)))
        self._n_samples += wav.size
        level_dbfs = voice.power_dbfs(self._sum_squares / self._n_samples if self._n_samples else 0.0)
        self.first_dbfs = level_dbfs if self.first_dbfs is None else self.first_dbfs
        return voice.louder_for_vad(wav, level_dbfs)


class _VoicePath:
    """What one detector keeps, followed to partials: detection → loudness → partials."""

    def __init__(self, aggressiveness: int, settings: VoiceSettings) -> None:
        self._speech = _SpeechFinder(aggressiveness)
        self._loudness = _LoudnessBlocks()
        self._embedder = _PartialEmbedder(settings)

    @property
    def speech_samples(self) -> int:
        """Samples of speech kept so far (find_speech's ``speech.wav.size`` once the recording has ended)."""
        return self._speech.kept_samples

    def push(self, wav: np.ndarray, heard: np.ndarray, speech_dbfs: float, final: bool) -> None:
        """``wav``: the next block, whole windows; ``heard``: as the detector hears it; ``speech_dbfs``: the
        level that all kept speech is raised by (the first block's: one scale, so that a 10 s loudness
        block across two blocks is not made of two levels; with one block, find_speech's)."""
        speech, window_start = self._speech.push(wav, heard, final)
        speech = voice.louder_for_vad(speech, speech_dbfs)
        self._embedder.push(self._loudness.push(speech, final), window_start, final)

    def partials(self) -> Partials:
        found = [partials for partials in self._embedder.found if len(partials)]
        if not found:
            return Partials(np.zeros((0, EMBEDDING_SIZE), np.float32), np.zeros(0), np.zeros(0))
        return Partials(np.concatenate([partials.embeddings for partials in found]),
                        np.concatenate([partials.start_s for partials in found]),
                        np.concatenate([partials.end_s for partials in found]))


class _SpeechFinder:
    """:func:`voice.find_speech`'s detection over consecutive blocks. The last windows of a block are held
    (with the windows before them, as context) until the windows they depend on have come."""

    def __init__(self, aggressiveness: int) -> None:
        self._detector = voice.speech_detector(aggressiveness)
        self._flags = np.zeros(0, np.float32)  # the held windows' detector flags
        self._windows = np.zeros((0, VAD_WINDOW_SAMPLES), np.float32)  # their samples, as decoded
        self._n_decided = 0  # held windows already decided: context for the ones after them
        self._n_windows = 0  # windows heard so far
        self.kept_samples = 0

    def push(self, wav: np.ndarray, heard: np.ndarray, final: bool) -> tuple[np.ndarray, np.ndarray]:
        """Newly decided speech: the kept windows' samples (n_kept × 480,) float32, and where each kept window
        starts in the recording, (n_kept,) int64 samples. ``wav``: the next whole windows; ``heard``: the
        same as the detector hears them."""
        flags = np.concatenate([self._flags, voice.vad_flags(self._detector, heard)])
        windows = np.concatenate([self._windows, wav.reshape(-1, VAD_WINDOW_SAMPLES)])
        first_window = self._n_windows - len(self._flags)  # the recording's index of windows[0]
        self._n_windows = first_window + len(flags)
        decided_end = len(flags) if final else max(len(flags) - KEEP_CONTEXT_WINDOWS, self._n_decided)
        keep = voice.keep_windows(flags) if flags.size else np.zeros(0, bool)
        kept = np.flatnonzero(keep[self._n_decided : decided_end]) + self._n_decided
        held_from = max(0, decided_end - KEEP_CONTEXT_WINDOWS)
        self._flags, self._windows = flags[held_from:].copy(), windows[held_from:].copy()
        self._n_decided = decided_end - held_from
        self.kept_samples += kept.size * VAD_WINDOW_SAMPLES
        return windows[kept].reshape(-1), (first_window + kept) * VAD_WINDOW_SAMPLES


class _LoudnessBlocks:
    """:func:`voice.normalise_speech` over a stream: each 10 s block of the recording's speech is normalised
    once it is complete (the last one at the end, however long)."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, np.float32)

    def push(self, speech: np.ndarray, final: bool) -> np.ndarray:
        pending = np.concatenate([self._pending, speech])
        block = int(voice.LOUDNESS_BLOCK_S * SAMPLE_RATE_HZ)
        ready = pending.size if final else pending.size - pending.size % block
        self._pending = pending[ready:].copy()
        return voice.normalise_speech(pending[:ready]) if ready else np.zeros(0, np.float32)


class _PartialEmbedder:
    """:func:`voice.embed_partials` over a stream of normalised speech. Partials start every stride frames of
    the whole speech; one is embedded once each of its mel frames' 25 ms windows lies in the speech held."""

    def __init__(self, settings: VoiceSettings) -> None:
        self._settings = settings
        self._stride = voice.partial_stride_frames(settings)
        self._wav = np.zeros(0, np.float32)  # the speech from sample ``_offset`` of the whole speech on
        self._window_start = np.zeros(0, np.int64)  # where speech windows ``_offset // 480``… start in the file
        self._offset = 0  # a whole number of VAD windows (so of mel hops too)
        self._next_frame = 0  # the next partial's first mel frame, counted over the whole speech
        self.found: list[Partials] = []

    def push(self, speech: np.ndarray, window_start: np.ndarray, final: bool) -> None:
        """``speech``: the next normalised samples; ``window_start``: the file positions (samples) of the next
        speech windows, which may run ahead of ``speech`` (the loudness step holds up to 10 s)."""
        self._wav = np.concatenate([self._wav, speech])
        self._window_start = np.concatenate([self._window_start, window_start])
        held = voice.Speech(self._wav, self._window_start, 0.0)
        if final and self._offset == 0:
            # nothing embedded yet, so all the speech is here: the whole-speech function answers, padding
            # speech shorter than a partial as it does
            self.found.append(voice.embed_partials(held, self._settings))
            return
        self.found.append(self._embed_ready(held, final))
        self._drop_done()

    def _embed_ready(self, held: voice.Speech, final: bool) -> Partials:
        mel = voice.mel_frames(self._wav) if self._wav.size else np.zeros((0, voice.MEL_CHANNELS), np.float32)
        first_frame = self._offset // MEL_HOP_SAMPLES  # mel[0] is this frame of the whole speech
        # a frame is centred on its first sample; once its window's right half is held it is final
        n_exact = mel.shape[0] if final else max(0, (self._wav.size - MEL_WINDOW_SAMPLES // 2) // MEL_HOP_SAMPLES + 1)
        starts = np.arange(self._next_frame, first_frame + n_exact - PARTIAL_FRAMES + 1, self._stride)
        if starts.size == 0:
            return Partials(np.zeros((0, EMBEDDING_SIZE), np.float32), np.zeros(0), np.zeros(0))
        self._next_frame = int(starts[-1]) + self._stride
        local = starts - first_frame
        start_sample = local * MEL_HOP_SAMPLES
        end_sample = np.minimum(start_sample + PARTIAL_FRAMES * MEL_HOP_SAMPLES, self._wav.size) - 1
        return Partials(voice.embed_mel_partials(mel, local), held.source_time_s(start_sample),
                        held.source_time_s(end_sample))

    def _drop_done(self) -> None:
        """Forget the speech before the next partial, but for the 200 samples its first frame's window reaches
        back (two hops), rounded down to a whole VAD window so that held sample i stays in window i // 480."""
        keep_from = max(0, self._next_frame * MEL_HOP_SAMPLES - 2 * MEL_HOP_SAMPLES)
        keep_from -= keep_from % VAD_WINDOW_SAMPLES
        drop = keep_from - self._offset
        self._wav = self._wav[drop:].copy()
        self._window_start = self._window_start[drop // VAD_WINDOW_SAMPLES :].copy()
        self._offset = keep_from
