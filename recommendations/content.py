"""The content map: a new movie's first factors from what it is about, and the item fold-in that refines them.

Collaborative filtering knows a movie only through its ratings. At each retrain a ridge regression learns, on the
movies with enough ratings, a linear map from a movie's content features to both models' per-movie terms: the list
model's item factors (ItemFactor), the stars model's factors and bias (StarsItemFactor). A movie the run has not
trained gets its "content prior" from that map (`content_prior`). As ratings arrive, `item_fold_in_list` /
`item_fold_in_stars` solve the movie's factors from its raters' user factors the way the retrain solves an item,
shrunk toward the prior: with no ratings the prior itself, with many the data.

Features (`content_features`), every block learned from the data with a capped vocabulary, so any MovieLens release
works: genres one-hot; the release decade one-hot plus the year scaled; MovieLens tag words and whole tags, title
words, TMDB overview words, directors and cast, each weighted like TF-IDF ((1 + log tf) · idf, the block
L2-normalised), each block scaled by its weight in ContentParams.

NumPy only: the web process reads this module (pyspark never). Feature matrices are built in chunks, so learning
on 59K movies with a 2,000-word vocabulary needs a few hundred MB at most.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from catalog.selectors import MovieContent, movie_content_list

from .models import TrainingRun

CHUNK_ROWS = 4096
YEAR_CENTER = 2000.0
YEAR_SCALE = 25.0
_WORD_RE = re.compile(r"[a-z0-9][a-z0-9']*[a-z0-9]|[a-z0-9]")
_TITLE_YEAR_RE = re.compile(r"\s*\(\d{4}(?:[-–]\d{4})?\)\s*$")
# Words that say nothing about a movie in any of the text blocks.
STOP_WORDS = frozenset(
    """a an the and or of in on at to for from by with without is are was were be been his her their its it he she
    they them this that these those as into who whom whose what when where which while after before up down out
    over under again then than so not no but all any both each few more most other some such only own same very
    can will just about s t ii iii film movie one two""".split()
)
# Word-like blocks: (prefix, share of ContentParams.vocabulary_size).
WORD_BLOCKS = (("tag", 0.4), ("title", 0.15), ("overview", 0.3), ("director", 0.05), ("cast", 0.1))


@dataclass(frozen=True)
class ContentParams:
    """How features are built and the map is learned; stored with every map."""

    vocabulary_size: int = 2000  # words over all text blocks (see WORD_BLOCKS for the shares)
    min_df: int = 2  # a word must appear in this many of the learning movies
    # Movies with fewer ratings are left out of learning. Low: new movies look like the many rarely rated ones, not like
    # the blockbusters (evaluate --cold-items --validate on ml-latest-small: NDCG@10 0.196 at 3, 0.185 at 5, 0.162
    # at 10, 0.141 at 20).
    min_ratings: int = 3
    min_movies: int = 30  # fewer learning movies than this: no map
    ridges: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)  # chosen by R² on a validation share of the movies
    validation_share: float = 0.2
    genre_weight: float = 1.0
    year_weight: float = 0.7
    tag_weight: float = 1.0
    title_weight: float = 0.3
    overview_weight: float = 0.7
    director_weight: float = 0.5
    cast_weight: float = 0.5

    def block_weight(self, block: str) -> float:
        return {
            "genre": self.genre_weight,
            "decade": self.year_weight,
            "year": self.year_weight,
            "tag": self.tag_weight,
            "title": self.title_weight,
            "overview": self.overview_weight,
            "director": self.director_weight,
            "cast": self.cast_weight,
        }[block]


# --- Features ---


def _words(text: str) -> list[str]:
    return [word for word in _WORD_RE.findall(text.lower()) if word not in STOP_WORDS and not word.isdigit()]


def _block_terms(content: MovieContent) -> dict[str, Counter]:
    """Per word block, term -> count for one movie."""
    tags: Counter = Counter()
    for tag, count in content.tags.items():
        words = _words(tag)
        for word in words:
            tags[word] += count
        if len(words) > 1:
            tags[" ".join(words)] += count
    return {
        "tag": tags,
        "title": Counter(_words(_TITLE_YEAR_RE.sub("", content.title))),
        "overview": Counter(_words(content.overview)),
        "director": Counter(name.strip().lower() for name in content.directors if name.strip()),
        "cast": Counter(name.strip().lower() for name in content.cast if name.strip()),
    }


def _decade(year: int | None) -> str:
    return "decade:none" if year is None else f"decade:{year // 10 * 10}"


@dataclass(frozen=True)
class Vocabulary:
    """Feature names in column order (`block:term`), and per column the idf (1 for genre, decade and year)."""

    names: tuple[str, ...]
    idf: np.ndarray  # float64 (features,)

    @property
    def index(self) -> dict[str, int]:
        cached = getattr(self, "_index", None)
        if cached is None:
            cached = {name: i for i, name in enumerate(self.names)}
            object.__setattr__(self, "_index", cached)
        return cached


def vocabulary_learn(*, contents: Sequence[MovieContent], params: ContentParams) -> Vocabulary:
    """The features of `contents` (the learning movies): every genre and decade seen, the year, and per word block
    its most frequent terms (document frequency ≥ min_df) up to the block's share of vocabulary_size."""
    n = max(len(contents), 1)
    genres = sorted({genre for content in contents for genre in content.genres})
    decades = sorted({_decade(content.year) for content in contents})
    names = [f"genre:{genre}" for genre in genres] + decades + ["year"]
    idf = [1.0] * len(names)
    frequencies: dict[str, Counter] = {block: Counter() for block, _ in WORD_BLOCKS}
    for content in contents:
        for block, terms in _block_terms(content).items():
            frequencies[block].update(terms.keys())
    for block, share in WORD_BLOCKS:
        cap = int(params.vocabulary_size * share)
        kept = [(term, df) for term, df in frequencies[block].items() if df >= params.min_df]
        kept.sort(key=lambda pair: (-pair[1], pair[0]))
        for term, df in kept[:cap]:
            names.append(f"{block}:{term}")
            idf.append(math.log((1 + n) / (1 + df)) + 1.0)
    return Vocabulary(names=tuple(names), idf=np.asarray(idf, dtype=np.float64))


def content_features(*, contents: Sequence[MovieContent], vocabulary: Vocabulary, params: ContentParams) -> np.ndarray:
    """The feature matrix (len(contents), features) float32 of `contents` in `vocabulary`'s columns.

    Genres one-hot over √(number of genres); decade one-hot and the year scaled, both times year_weight (no year: the
    decade "none" and year 0); each word block (1 + log tf) · idf, L2-normalised, times its weight. Unknown terms
    are ignored."""
    index = vocabulary.index
    matrix = np.zeros((len(contents), len(vocabulary.names)), dtype=np.float32)
    year_column = index.get("year")
    for row, content in enumerate(contents):
        genre_columns = [index[f"genre:{genre}"] for genre in content.genres if f"genre:{genre}" in index]
        if genre_columns:
            matrix[row, genre_columns] = params.genre_weight / math.sqrt(len(genre_columns))
        decade = index.get(_decade(content.year))
        if decade is not None:
            matrix[row, decade] = params.year_weight
        if year_column is not None and content.year is not None:
            matrix[row, year_column] = params.year_weight * (content.year - YEAR_CENTER) / YEAR_SCALE
        for block, terms in _block_terms(content).items():
            columns, values = [], []
            for term, count in terms.items():
                column = index.get(f"{block}:{term}")
                if column is not None:
                    columns.append(column)
                    values.append((1.0 + math.log(count)) * vocabulary.idf[column])
            if columns:
                values_array = np.asarray(values)
                matrix[row, columns] = params.block_weight(block) * values_array / np.linalg.norm(values_array)
    return matrix


# --- The map ---


@dataclass(frozen=True)
class ContentMap:
    """features → per-movie terms of a run's two models: prediction = features @ weights + intercept.

    `list_*` map to the list model's item factors (ItemFactor), `stars_*` to the stars model's factors and
    `bias_*` to its movie bias (StarsItemFactor); a run without a stars model has stars_weights of width 0.
    `fit`: how well it predicts on movies held out while choosing the ridge (R², chosen ridge, sizes)."""

    vocabulary: tuple[str, ...]
    idf: np.ndarray  # float64 (features,)
    list_weights: np.ndarray  # float32 (features, k)
    list_intercept: np.ndarray  # float32 (k,)
    stars_weights: np.ndarray  # float32 (features, k_s)
    stars_intercept: np.ndarray  # float32 (k_s,)
    bias_weights: np.ndarray  # float32 (features,)
    bias_intercept: float
    movies_learned: int
    params: ContentParams = field(default_factory=ContentParams)
    fit: dict = field(default_factory=dict)

    @property
    def vocabulary_object(self) -> Vocabulary:
        cached = getattr(self, "_vocabulary", None)
        if cached is None:
            cached = Vocabulary(names=self.vocabulary, idf=self.idf)
            object.__setattr__(self, "_vocabulary", cached)
        return cached

    @property
    def has_stars(self) -> bool:
        return self.stars_weights.shape[1] > 0

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(list factors (n, k) float32, stars bias (n,) float64, stars factors (n, k_s) float32) for feature rows."""
        features = features.astype(np.float32, copy=False)
        list_factors = features @ self.list_weights + self.list_intercept
        stars_factors = features @ self.stars_weights + self.stars_intercept
        bias = features.astype(np.float64) @ self.bias_weights.astype(np.float64) + self.bias_intercept
        return list_factors.astype(np.float32), bias, stars_factors.astype(np.float32)

    def predict_contents(self, contents: Sequence[MovieContent]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        features = content_features(contents=contents, vocabulary=self.vocabulary_object, params=self.params)
        return self.predict(features)

    def to_bytes(self) -> bytes:
        """The map as an .npz archive (arrays, plus the vocabulary, parameters and fit as JSON); no pickles."""
        meta = {
            "vocabulary": list(self.vocabulary),
            "bias_intercept": float(self.bias_intercept),
            "movies_learned": int(self.movies_learned),
            "params": asdict(self.params),
            "fit": self.fit,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            idf=self.idf,
            list_weights=self.list_weights,
            list_intercept=self.list_intercept,
            stars_weights=self.stars_weights,
            stars_intercept=self.stars_intercept,
            bias_weights=self.bias_weights,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ContentMap:
        """The map `to_bytes` wrote. Raises ValueError (or KeyError) on data that is not one."""
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            params = meta["params"]
            params["ridges"] = tuple(params["ridges"])
            return cls(
                vocabulary=tuple(meta["vocabulary"]),
                idf=archive["idf"],
                list_weights=archive["list_weights"],
                list_intercept=archive["list_intercept"],
                stars_weights=archive["stars_weights"],
                stars_intercept=archive["stars_intercept"],
                bias_weights=archive["bias_weights"],
                bias_intercept=float(meta["bias_intercept"]),
                movies_learned=int(meta["movies_learned"]),
                params=ContentParams(**params),
                fit=meta["fit"],
            )


@dataclass(frozen=True)
class ModelTerms:
    """Per-movie terms of a trained run, rows aligned with `movie_ids`: what the content map learns to predict."""

    movie_ids: np.ndarray  # int64 (n,)
    list_factors: np.ndarray  # (n, k)
    stars_factors: np.ndarray | None = None  # (n, k_s), None without a stars model
    stars_biases: np.ndarray | None = None  # (n,)


def _gram_sums(
    features_of, rows: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(XᵀX, XᵀY, Σx, Σy) over `rows`, in float64, building X chunk by chunk."""
    gram = xty = sum_x = None
    for start in range(0, rows.size, CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        x = features_of(chunk).astype(np.float64)
        y = targets[chunk]
        if gram is None:
            gram, xty, sum_x, sum_y = x.T @ x, x.T @ y, x.sum(axis=0), y.sum(axis=0)
        else:
            gram += x.T @ x
            xty += x.T @ y
            sum_x += x.sum(axis=0)
            sum_y += y.sum(axis=0)
    return gram, xty, sum_x, sum_y


def _ridge_solve(gram, xty, sum_x, sum_y, n: int, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights and intercepts of ridge regression with an unpenalised intercept, from the sums."""
    mean_x, mean_y = sum_x / n, sum_y / n
    centred = gram - n * np.outer(mean_x, mean_x)
    centred[np.diag_indices_from(centred)] += ridge
    rhs = xty - n * np.outer(mean_x, mean_y)
    try:
        weights = np.linalg.solve(centred, rhs)
    except np.linalg.LinAlgError:
        weights = np.linalg.lstsq(centred, rhs, rcond=None)[0]
    return weights, mean_y - mean_x @ weights


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    """1 − SSE/SST over all columns (SST about each column's mean)."""
    total = float(((truth - truth.mean(axis=0)) ** 2).sum())
    return 1.0 - float(((truth - predicted) ** 2).sum()) / total if total > 0 else 0.0


def content_map_learn(
    *,
    terms: ModelTerms,
    rating_counts: np.ndarray,
    contents: Sequence[MovieContent],
    params: ContentParams | None = None,
) -> tuple[ContentMap | None, str]:
    """Learn the map on the movies of `terms` with at least params.min_ratings ratings (`rating_counts`, aligned
    with terms.movie_ids) whose content is in `contents`.

    The ridge is chosen by R² of the list factors on a validation share of those movies (by a hash of the id, so
    the same movies every time), then the map is refitted on all of them. Returns (map, "") or (None, reason) when
    it cannot be learned: too few movies, no features. Pure NumPy, no database."""
    params = params or ContentParams()
    by_id = {content.movie_id: content for content in contents}
    eligible = [
        row
        for row, (movie_id, count) in enumerate(zip(terms.movie_ids.tolist(), rating_counts.tolist(), strict=True))
        if count >= params.min_ratings and movie_id in by_id
    ]
    if len(eligible) < params.min_movies:
        return None, (
            f"only {len(eligible)} movies with at least {params.min_ratings} ratings and known content "
            f"(the content map needs {params.min_movies})"
        )
    rows = np.asarray(eligible, dtype=np.int64)
    learning = [by_id[int(terms.movie_ids[row])] for row in rows]
    vocabulary = vocabulary_learn(contents=learning, params=params)
    k = terms.list_factors.shape[1]
    has_stars = terms.stars_factors is not None and terms.stars_biases is not None
    parts = [terms.list_factors[rows].astype(np.float64)]
    if has_stars:
        parts += [terms.stars_factors[rows].astype(np.float64), terms.stars_biases[rows].astype(np.float64)[:, None]]
    targets = np.hstack(parts)
    k_s = terms.stars_factors.shape[1] if has_stars else 0

    def features_of(chunk: np.ndarray) -> np.ndarray:
        return content_features(contents=[learning[i] for i in chunk], vocabulary=vocabulary, params=params)

    ids = terms.movie_ids[rows]
    validation = (ids * 2654435761 % 1000) < params.validation_share * 1000
    positions = np.arange(rows.size)
    train_sums = _gram_sums(features_of, positions[~validation], targets)
    fit: dict = {"features": len(vocabulary.names), "movies": int(rows.size)}
    ridge = params.ridges[0]
    if validation.sum() >= 5 and (~validation).sum() >= params.min_movies // 2:
        x_val = np.vstack(
            [features_of(chunk) for chunk in np.array_split(positions[validation], 1 + validation.sum() // CHUNK_ROWS)]
        )
        y_val = targets[validation]
        scores = {}
        for candidate in params.ridges:
            weights, intercept = _ridge_solve(*train_sums, int((~validation).sum()), candidate)
            scores[candidate] = x_val.astype(np.float64) @ weights + intercept
        ridge = max(params.ridges, key=lambda r: _r2(y_val[:, :k], scores[r][:, :k]))
        best = scores[ridge]
        fit["validation_movies"] = int(validation.sum())
        fit["list_r2"] = round(_r2(y_val[:, :k], best[:, :k]), 4)
        if has_stars:
            fit["stars_r2"] = round(_r2(y_val[:, k : k + k_s], best[:, k : k + k_s]), 4)
            fit["bias_r2"] = round(_r2(y_val[:, -1:], best[:, -1:]), 4)
    val_sums = _gram_sums(features_of, positions[validation], targets) if validation.any() else None
    sums = train_sums if val_sums is None else tuple(a + b for a, b in zip(train_sums, val_sums, strict=True))
    weights, intercept = _ridge_solve(*sums, int(rows.size), ridge)
    fit["ridge"] = ridge
    d = len(vocabulary.names)
    return (
        ContentMap(
            vocabulary=vocabulary.names,
            idf=vocabulary.idf,
            list_weights=weights[:, :k].astype(np.float32),
            list_intercept=intercept[:k].astype(np.float32),
            stars_weights=(weights[:, k : k + k_s] if has_stars else np.zeros((d, 0))).astype(np.float32),
            stars_intercept=(intercept[k : k + k_s] if has_stars else np.zeros(0)).astype(np.float32),
            bias_weights=(weights[:, -1] if has_stars else np.zeros(d)).astype(np.float32),
            bias_intercept=float(intercept[-1]) if has_stars else 0.0,
            movies_learned=int(rows.size),
            params=params,
            fit=fit,
        ),
        "",
    )


# --- Item fold-in: a movie's factors from its raters, shrunk toward its content prior ---


def item_fold_in_list(
    *,
    user_factors: np.ndarray,
    values: np.ndarray,
    prior: np.ndarray,
    users_gram: np.ndarray,
    reg_param: float,
    alpha: float,
    center: float,
    prior_strength: float,
) -> np.ndarray:
    """The list model's factors of one movie from its ratings: Spark's implicit item step, shrunk toward `prior`.

    `user_factors` (n, k): the list-model factors of the raters; `values` (n,) their stars; `users_gram` UᵀU over
    all of the run's users (the implicit step's term for every unrated pair). With c₁ = α·|r − c|, n₊ the ratings
    above the centre, s the prior strength and P = UᵀU + s·I the prior's precision:
    v = (UᵀU + Σ c₁·u·uᵀ + (λ·n₊ + s)·I)⁻¹ (Σ₊ (1 + c₁)·u + P·prior).
    That is Spark's step with the people who have not rated the movie yet expected to like it as the prior says
    (not as "0": the movie is new, their silence is no evidence), so with no ratings it is the prior, and each
    rating moves it as far as the retrain would (v − prior = M⁻¹(b − Σ c₁·u·uᵀ·prior − λ·n₊·prior)).
    Float64 out."""
    prior = np.asarray(prior, dtype=np.float64)
    if len(values) == 0:
        return prior.copy()
    u = np.asarray(user_factors, dtype=np.float64)
    centred = np.asarray(values, dtype=np.float64) - center
    c1 = alpha * np.abs(centred)
    positive = centred > 0
    a = users_gram + (u.T * c1) @ u
    a[np.diag_indices_from(a)] += reg_param * int(positive.sum()) + prior_strength
    b = (u[positive] * (1.0 + c1[positive])[:, None]).sum(axis=0) + users_gram @ prior + prior_strength * prior
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def list_prior_strength(*, prior_ratings: float, alpha: float, users_mean_square: float) -> float:
    """The list fold-in's prior strength s when the prior should weigh like `prior_ratings` ratings: one rater adds
    about (1 + α)·mean‖u‖²/rank to each diagonal entry (`users_mean_square`: the mean squared entry of the run's
    user factors). The same scaling as the site's (recommendations.cold_items, ITEM_FOLDIN_PRIOR_RATINGS)."""
    return prior_ratings * (1.0 + alpha) * users_mean_square


def item_fold_in_stars(
    *,
    user_factors: np.ndarray,
    user_biases: np.ndarray,
    values: np.ndarray,
    global_mean: float,
    prior_bias: float,
    prior: np.ndarray,
    reg_param: float,
    reg_item: float,
    prior_strength: float,
) -> tuple[float, np.ndarray]:
    """The stars model's (b_i, v_i) of one movie from its ratings, as the retrain fits a movie, shrunk toward the
    content prior: b_i = (Σ(r − μ − b_u) + λ_i·prior_bias) / (λ_i + n), then on the residuals e = r − μ − b_u − b_i
    v = (UᵀU + (λ·n + s)·I)⁻¹ (Uᵀe + s·prior). No ratings: the prior. Float64 out."""
    prior = np.asarray(prior, dtype=np.float64)
    n = len(values)
    if n == 0:
        return float(prior_bias), prior.copy()
    values = np.asarray(values, dtype=np.float64)
    user_biases = np.asarray(user_biases, dtype=np.float64)
    bias = float(((values - global_mean - user_biases).sum() + reg_item * prior_bias) / (reg_item + n))
    residuals = values - global_mean - user_biases - bias
    u = np.asarray(user_factors, dtype=np.float64)
    a = u.T @ u
    a[np.diag_indices_from(a)] += reg_param * n + prior_strength
    b = u.T @ residuals + prior_strength * prior
    try:
        return bias, np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return bias, np.linalg.lstsq(a, b, rcond=None)[0]


# --- A run's map, cached per process ---


@dataclass(frozen=True)
class ContentPrior:
    """Content priors of movie ids (rows as asked); `found` False where the run has no map or the movie is gone."""

    movie_ids: np.ndarray  # int64 (n,)
    list_factors: np.ndarray  # float32 (n, k)
    stars_bias: np.ndarray  # float64 (n,)
    stars_factors: np.ndarray  # float32 (n, k_s)
    found: np.ndarray  # bool (n,)


_lock = threading.Lock()
_maps: dict[int, ContentMap | None] = {}
_KEEP_RUNS = 2


def content_cache_clear() -> None:
    """Forget the loaded maps (recommendations.foldin.foldin_cache_clear calls this too)."""
    with _lock:
        _maps.clear()


def content_map_for_run(run: TrainingRun) -> ContentMap | None:
    """The run's content map, loaded once per run and process; None when the run published none."""
    if run.pk in _maps:
        return _maps[run.pk]
    from .models import ContentMap as ContentMapRecord

    data = ContentMapRecord.objects.filter(run_id=run.pk).values_list("data", flat=True).first()
    value = ContentMap.from_bytes(data) if data is not None else None
    with _lock:
        for stale in list(_maps)[: max(len(_maps) - _KEEP_RUNS + 1, 0)]:
            del _maps[stale]
        _maps[run.pk] = value
    return value


def content_prior(*, run: TrainingRun, movie_ids: Iterable[int]) -> ContentPrior:
    """The content priors of `movie_ids` under `run`'s map (one catalogue read of their content, a few queries).

    Rows follow `movie_ids`; a movie that does not exist, or a run without a map, gives found False and zeros."""
    ids = np.fromiter((int(movie_id) for movie_id in movie_ids), dtype=np.int64)
    content_map = content_map_for_run(run)
    k = content_map.list_weights.shape[1] if content_map else 0
    k_s = content_map.stars_weights.shape[1] if content_map else 0
    prior = ContentPrior(
        movie_ids=ids,
        list_factors=np.zeros((ids.size, k), dtype=np.float32),
        stars_bias=np.zeros(ids.size),
        stars_factors=np.zeros((ids.size, k_s), dtype=np.float32),
        found=np.zeros(ids.size, dtype=bool),
    )
    if content_map is None or ids.size == 0:
        return prior
    contents = movie_content_list(movie_ids=ids.tolist())
    if not contents:
        return prior
    list_factors, bias, stars_factors = content_map.predict_contents(contents)
    row_of = {content.movie_id: i for i, content in enumerate(contents)}
    for row, movie_id in enumerate(ids.tolist()):
        source = row_of.get(movie_id)
        if source is not None:
            prior.list_factors[row] = list_factors[source]
            prior.stars_bias[row] = bias[source]
            prior.stars_factors[row] = stars_factors[source]
            prior.found[row] = True
    return prior
