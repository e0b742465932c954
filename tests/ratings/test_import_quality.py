"""Match quality on the real catalogue: 1,000 movies of ml-latest-small (bundled in data/, nothing downloaded),
written as Letterboxd and IMDb write them, must come back as the right movies, and never as wrong ones."""

import random
from pathlib import Path

import pytest
from django.conf import settings

from ratings.imports import samples
from ratings.imports.formats import IMDB, LETTERBOXD, MOVIEREC, TRAKT, parse
from ratings.imports.matching import CHOOSE, MATCHED, CatalogueIndex, match_rows

ML_SMALL = Path(settings.BASE_DIR) / "data" / "ml-latest-small"
SAMPLE = 1_000


@pytest.fixture(scope="module")
def catalogue():
    if not (ML_SMALL / "movies.csv").exists():
        pytest.skip(f"{ML_SMALL} is not there")
    return samples.movielens_catalogue(ML_SMALL)


def _quality(catalogue, writer, expected_format, *, seed):
    sample = random.Random(seed).sample(catalogue, SAMPLE)
    if expected_format == IMDB:
        sample = [movie for movie in sample if movie[3]]
    parsed = parse(writer(sample, seed=seed))
    assert parsed.format == expected_format
    results = match_rows(CatalogueIndex.build(catalogue), parsed.rows, parsed.format)
    right = wrong = 0
    for movie, result in zip(sample, results, strict=True):
        if result.status == MATCHED:
            right += result.movie_id == movie[0]
            wrong += result.movie_id != movie[0]
        elif result.status == CHOOSE:
            assert movie[0] in result.candidates, (movie, result)
    return right / len(sample), wrong


@pytest.mark.parametrize("seed", [0, 1])
def test_letterboxd_titles_match_the_right_movie(catalogue, seed):
    share, wrong = _quality(catalogue, samples.letterboxd_csv, LETTERBOXD, seed=seed)
    assert wrong == 0
    assert share >= 0.98, share


def test_imdb_ids_match_the_right_movie(catalogue):
    share, wrong = _quality(catalogue, samples.imdb_csv, IMDB, seed=2)
    assert wrong == 0
    assert share >= 0.99, share


@pytest.mark.parametrize("writer, fmt", [(samples.trakt_json, TRAKT), (samples.movierec_csv, MOVIEREC)])
def test_trakt_and_movierec_files_match_the_right_movie(catalogue, writer, fmt):
    share, wrong = _quality(catalogue, writer, fmt, seed=3)
    assert wrong == 0
    assert share >= 0.99, share
