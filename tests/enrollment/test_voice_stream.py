"""A recording's voice partials worked out block by block (enrollment.voice_stream) agree with the
whole-recording path (decode_audio → find_speech → embed_partials), in far less memory.

The whole-recording path is the reference: it is what enrolment uses, and what scans used before.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from enrollment import voice, voice_stream
from enrollment.media import SAMPLE_RATE_HZ, decode_audio, iter_audio_chunks
from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio

THIRD_VOICE = "en+m3"


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return load_config(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def turns() -> dict[str, list[np.ndarray]]:
    """Each text in three synthetic voices: the turns of the conversations below."""
    return {name: [synthesise(text, name) for text in TEXTS] for name in (PERFORMER_VOICE, OTHER_VOICE, THIRD_VOICE)}


def _conversation(turns: dict[str, list[np.ndarray]], total_s: float, seed: int = 0) -> np.ndarray:
    """Turns of the three voices in random order, with 0.2–1.5 s pauses, cut to ``total_s``."""
    rng = np.random.default_rng(seed)
    names, parts, length = list(turns), [], 0
    while length < total_s * SAMPLE_RATE_HZ:
        turn = turns[names[rng.integers(len(names))]][rng.integers(len(TEXTS))]
        parts += [turn, np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE_HZ), np.float32)]
        length += parts[-2].size + parts[-1].size
    return np.concatenate(parts)[: int(total_s * SAMPLE_RATE_HZ)].astype(np.float32)


def _whole(path: Path, config) -> tuple[voice.Partials, float, float]:
    """The reference: (partials, speech_s, duration_s) from the whole decoded recording."""
    wav = decode_audio(path, config.media)
    speech = voice.find_speech(wav, config.voice)
    return voice.embed_partials(speech, config.voice), speech.speech_s, wav.size / SAMPLE_RATE_HZ


def _streamed(path: Path, config, block_s: float | None = None) -> voice_stream.StreamedVoice:
    block = voice_stream.BLOCK_SAMPLES if block_s is None else int(block_s * SAMPLE_RATE_HZ) // 480 * 480
    return voice_stream.stream_partials(iter_audio_chunks(path, config.media), config.voice, block)


def _assert_same(streamed: voice_stream.StreamedVoice, whole: tuple, exact: bool = False) -> None:
    partials, speech_s, duration_s = whole
    assert (streamed.speech_s, streamed.duration_s) == (speech_s, duration_s)
    # the same partials at the same places; the mel frames of a block's speech may differ in the last bit
    np.testing.assert_array_equal(streamed.partials.start_s, partials.start_s)
    np.testing.assert_array_equal(streamed.partials.end_s, partials.end_s)
    if exact:
        np.testing.assert_array_equal(streamed.partials.embeddings, partials.embeddings)
    else:
        np.testing.assert_allclose(streamed.partials.embeddings, partials.embeddings, atol=1e-5)


@pytest.mark.parametrize("gain", [1.0, 0.03])  # 0.03: a quiet recording, which the detector hears raised
def test_a_recording_shorter_than_a_block_gets_exactly_the_whole_recording_result(turns, config, tmp_path,
                                                                                  gain) -> None:
    path = write_audio(tmp_path / "talk.wav", _conversation(turns, 60) * gain)

    _assert_same(_streamed(path, config), _whole(path, config), exact=True)


@pytest.mark.parametrize("block_s", [6.0, 9.99, 31.0])
def test_block_boundaries_neither_lose_nor_shift_speech(turns, config, tmp_path, block_s) -> None:
    path = write_audio(tmp_path / "talk.wav", _conversation(turns, 60, seed=1))

    _assert_same(_streamed(path, config, block_s), _whole(path, config))


def test_a_quiet_recording_in_blocks_is_close(turns, config, tmp_path) -> None:
    """The one difference: the detector hears a quiet recording raised by the level decoded so far, not the
    whole file's, so a window at the edge of speech may be decided otherwise."""
    path = write_audio(tmp_path / "quiet.wav", _conversation(turns, 60, seed=2) * 0.03)
    whole, speech_s, _ = _whole(path, config)

    streamed = _streamed(path, config, 9.99)

    assert streamed.speech_s == pytest.approx(speech_s, abs=0.3)
    assert len(streamed.partials) == pytest.approx(len(whole), abs=1)
    similarity = np.sum(voice.mean_embedding(streamed.partials.embeddings) * voice.mean_embedding(whole.embeddings))
    assert similarity > 0.999


def _hum(seconds: float) -> np.ndarray:
    """A 100 Hz hum, 30 % modulated at 2 Hz: the strict detector keeps none of it, the lenient one all."""
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.3 * np.sin(2 * np.pi * 100 * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def test_the_lenient_retry_is_kept_across_blocks(config, tmp_path) -> None:
    path = write_audio(tmp_path / "hum.wav", _hum(20))
    whole = _whole(path, config)
    assert whole[1] > 10  # the lenient detector's speech: find_speech asked again

    _assert_same(_streamed(path, config, 6.0), whole)


def test_the_lenient_detector_is_not_used_once_the_strict_one_has_kept_enough(turns, config, tmp_path) -> None:
    path = write_audio(tmp_path / "hum-then-talk.wav", np.concatenate([_hum(8), _conversation(turns, 20)]))

    _assert_same(_streamed(path, config, 6.0), _whole(path, config))


@pytest.mark.parametrize("seconds", [0.01, 0.1, 0.2])
def test_recordings_too_short_for_a_partial(config, tmp_path, seconds) -> None:
    path = write_audio(tmp_path / "blip.wav", _hum(seconds))

    streamed = _streamed(path, config, 6.0)

    assert len(streamed.partials) == 0 and streamed.partials.embeddings.shape == (0, voice.EMBEDDING_SIZE)
    assert streamed.duration_s == pytest.approx(seconds, abs=1e-3)


def test_blocks_join_up_to_the_decoded_recording(turns, tmp_path, config) -> None:
    wav = _conversation(turns, 12) * 1.5  # some samples beyond [-1, 1]: clipped as decode_audio clips
    path = write_audio(tmp_path / "talk.flac", wav)
    decoded = decode_audio(path, config.media)
    for block_samples in (4800, 48_000, decoded.size, decoded.size // 480 * 480):
        blocks = list(voice_stream._blocks(iter_audio_chunks(path, config.media), block_samples))

        np.testing.assert_array_equal(np.concatenate([block for block, _ in blocks]), decoded)
        assert [final for _, final in blocks] == [False] * (len(blocks) - 1) + [True]
        assert all(block.size == block_samples for block, _ in blocks[:-1])


# --------------------------------------------------------------------------- a 10-minute podcast


@pytest.fixture(scope="module")
def podcast(turns, tmp_path_factory) -> Path:
    """10 minutes of three voices, as a podcast is published: mp3, 44.1 kHz mono."""
    import librosa

    wav = _conversation(turns, 600, seed=3)
    wav *= 0.5 / np.abs(wav).max()  # monitor.demo.synthetic's mp3 (s32) samples overflow at full scale
    return write_audio(tmp_path_factory.mktemp("podcast") / "podcast.mp3",
                       librosa.resample(wav, orig_sr=SAMPLE_RATE_HZ, target_sr=44_100), 44_100)


@pytest.mark.slow
def test_a_ten_minute_podcast_gets_the_same_windows_times_and_scores(podcast, turns, config) -> None:
    whole = _whole(podcast, config)
    streamed = _streamed(podcast, config)  # 3-minute blocks: 4 of them
    window_partials = config.voice.window_partials
    windows = voice.window_embeddings(whole[0], window_partials)
    streamed_windows = voice.window_embeddings(streamed.partials, window_partials)
    voiceprints = np.stack([voice.mean_embedding(voice.embed_partials(voice.find_speech(np.concatenate(clips),
                                                                                        config.voice),
                                                                      config.voice).embeddings)
                            for clips in turns.values()])  # (3, 256): each voice enrolled from all its turns

    assert len(windows) > 500 and streamed.speech_s == pytest.approx(whole[1], abs=0.05)
    np.testing.assert_array_equal(streamed_windows.start_s, windows.start_s)
    np.testing.assert_array_equal(streamed_windows.end_s, windows.end_s)
    scores, streamed_scores = windows.embeddings @ voiceprints.T, streamed_windows.embeddings @ voiceprints.T
    assert np.abs(streamed_scores - scores).max() < 1e-4


@pytest.mark.slow
def test_only_a_block_of_samples_is_held_at_once(podcast, config, tmp_path) -> None:
    """numpy's allocations (the samples, speech, mel frames) peak at a few blocks' worth, far below the
    decoded recording (38 MB here); the encoder's own memory is torch's, not counted here."""
    decoded_bytes = 600 * SAMPLE_RATE_HZ * 4
    _streamed(write_audio(tmp_path / "warm.wav", _hum(3)), config, 1.0)  # lazy imports are not the stream's
    tracemalloc.start()
    try:
        streamed = _streamed(podcast, config, 10.0)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert streamed.duration_s == pytest.approx(600, abs=0.1)
    assert peak_bytes < decoded_bytes / 4, f"peak {peak_bytes / 1e6:.1f} MB"
