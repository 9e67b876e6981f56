"""Screening a large gallery: the cheap pass bounds every performer's best from above, so the performers it
keeps hold every match and the closest, whatever the processor."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.matching import voice_screening
from monitor.matching.voice_scores import build_population, score_windows, window_sides


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def int8_pass(monkeypatch) -> None:
    """The 8-bit pass whatever the processor (it is exact anywhere, fast only with int8 instructions)."""
    monkeypatch.setattr(voice_screening, "MIN_PERFORMERS_SCREENED", 1)
    monkeypatch.setattr(voice_screening, "_fast_int8", lambda: True)


@pytest.mark.parametrize("signed", [False, True])
def test_8_bit_products_stay_within_the_stated_bound_of_the_cosine(signed: bool) -> None:
    from monitor.matching.voice_screening import _quantise_windows, _quantised_prints

    rng = np.random.default_rng(3)
    prints = _unit(rng.normal(size=(1, 2000, 256)) ** 2)  # peaked, like an encoder's ReLU output
    windows = _unit(prints[0, :50] + 0.3 * (rng.normal if signed else lambda size: np.abs(rng.normal(size=size)))(
        size=(50, 256)))
    population = build_population(prints, _unit(rng.normal(size=(1, 20, 256))), 10)

    values, window_scale, offset, window_error = _quantise_windows(windows)
    quantised = _quantised_prints(population)
    products = values.astype(np.int64) @ quantised.values[0].astype(np.int64).T
    products += (offset > 0) * quantised.shifted_sums[0]
    estimate = products * window_scale[:, None].astype(np.float64) * quantised.scale[0].astype(np.float64)
    bound = quantised.error[0] + window_error * quantised.norm[0]

    assert (offset == 0) == signed  # non-negative windows get twice the levels
    assert (np.abs(estimate - windows.astype(np.float64) @ prints[0].T.astype(np.float64)) <= bound).all()
    assert bound.max() < 0.04  # about 0.017 for the encoder's windows and voiceprints


@pytest.mark.parametrize("signed", [False, True])
def test_the_bound_is_at_least_every_performers_exact_best_serving_or_not(int8_pass, monkeypatch, signed) -> None:
    from monitor.matching import voice_scores

    rng = np.random.default_rng(8)
    prints = _unit(np.abs(rng.normal(size=(3, 700, 64))) ** 2)
    known = rng.random((3, 700)) > 0.2
    known[0] = True
    noise = rng.normal(size=(40, 64)) if signed else np.abs(rng.normal(size=(40, 64)))
    windows = _unit(prints[0, rng.integers(0, 700, 40)] + 0.4 * noise)
    monkeypatch.setattr(voice_scores, "MAX_PERFORMERS_SERVING", 60)
    for module in (voice_scores, voice_screening):  # long media: windows taken 16 at a time
        monkeypatch.setattr(module, "WINDOW_CHUNK", 16)
    population = build_population(prints, _unit(np.abs(rng.normal(size=(3, 50, 64)))), 10, known=known)
    sides = window_sides(windows, population)

    exact = score_windows(windows, population, sides=sides).score.max(axis=0)
    upper = voice_screening.upper_bounds(windows, population, sides)

    assert (upper >= exact).all()
    assert upper[population.serving] == pytest.approx(exact[population.serving], abs=2e-3)
    assert np.median(upper - exact) < 1.0  # a bound, but a useful one


@pytest.mark.parametrize("quantile", [0.5, 0.9, 0.99])
def test_candidates_hold_every_performer_at_or_above_the_threshold_and_the_closest(monkeypatch, quantile) -> None:
    rng = np.random.default_rng(4)
    prints = _unit(np.abs(rng.normal(size=(2, 800, 64))) ** 2)
    windows = _unit(prints[0, rng.integers(0, 800, 30)] + 0.5 * np.abs(rng.normal(size=(30, 64))))
    population = build_population(prints, _unit(np.abs(rng.normal(size=(2, 60, 64)))), 10)
    exact = score_windows(windows, population).score.max(axis=0)
    threshold = float(np.quantile(exact, quantile))
    monkeypatch.setattr(voice_screening, "MIN_PERFORMERS_SCREENED", 1)

    for int8 in (True, False):
        monkeypatch.setattr(voice_screening, "_fast_int8", lambda int8=int8: int8)
        found = set(voice_screening.candidate_columns(windows, population, threshold, n_closest=5).tolist())

        assert set(np.flatnonzero(exact >= threshold).tolist()) <= found
        assert set(np.argsort(-exact)[:5].tolist()) <= found
    assert len(found) <= np.sum(exact >= threshold - 0.01) + 5  # float32: hardly more than needed


def test_the_8_bit_prints_are_made_once_and_workers_map_the_parents_copy(int8_pass) -> None:
    import pickle

    rng = np.random.default_rng(2)
    population = build_population(_unit(np.abs(rng.normal(size=(1, 900, 16)))), _unit(rng.normal(size=(1, 5, 16))), 3)
    windows = population.prints[0, :4]
    voice_screening.prepare(population)
    made = population.screening
    bounds = voice_screening.upper_bounds(windows, population, window_sides(windows, population))

    whole = len(pickle.dumps(population))
    voice_screening.share(population)
    sent = pickle.dumps(population)
    received = pickle.loads(sent)

    assert population.screening is made
    assert len(sent) < whole - made.values.nbytes // 2  # the 8-bit values are not in it
    assert isinstance(received.screening.values, np.memmap)
    assert np.array_equal(received.screening.values, made.values)
    assert voice_screening.upper_bounds(windows, received, window_sides(windows, received)) == pytest.approx(bounds)


def test_the_shared_file_goes_with_the_gallery(int8_pass) -> None:
    import gc

    rng = np.random.default_rng(6)
    population = build_population(_unit(np.abs(rng.normal(size=(1, 50, 16)))), _unit(rng.normal(size=(1, 5, 16))), 3)
    voice_screening.prepare(population)
    voice_screening.share(population)
    path = population.screening.path
    assert path.is_file()

    del population
    gc.collect()

    assert not path.exists()
