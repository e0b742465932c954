"""Explicit schemas for everything that crosses the Spark boundary (files in, files out)."""

from pyspark.sql.types import ArrayType, DoubleType, FloatType, IntegerType, LongType, StructField, StructType

# Ratings exported from PostgreSQL to Parquet; `ts` is seconds since the epoch.
RATINGS_SCHEMA = StructType(
    [
        StructField("user_id", IntegerType(), nullable=False),
        StructField("movie_id", IntegerType(), nullable=False),
        StructField("rating", FloatType(), nullable=False),
        StructField("ts", LongType(), nullable=False),
    ]
)

# Per-user top-N, rank 1 is the best; COPY-loaded into PostgreSQL.
RECOMMENDATIONS_SCHEMA = StructType(
    [
        StructField("user_id", IntegerType(), nullable=False),
        StructField("movie_id", IntegerType(), nullable=False),
        StructField("rank", IntegerType(), nullable=False),
        StructField("score", FloatType(), nullable=False),
    ]
)

# The same with a second model's score of each pair (the stars model's predicted rating), as
# `topk.top_n_unrated(..., rate_with=...)` gives it.
RATED_RECOMMENDATIONS_SCHEMA = StructType(
    [*RECOMMENDATIONS_SCHEMA.fields, StructField("prediction", DoubleType(), nullable=False)]
)

# Per-movie most similar movies (cosine of factors), rank 1 is the most similar.
SIMILAR_SCHEMA = StructType(
    [
        StructField("movie_id", IntegerType(), nullable=False),
        StructField("similar_id", IntegerType(), nullable=False),
        StructField("rank", IntegerType(), nullable=False),
        StructField("score", FloatType(), nullable=False),
    ]
)

# Latent factors as ALSModel.userFactors / itemFactors provide them.
FACTORS_SCHEMA = StructType(
    [
        StructField("id", IntegerType(), nullable=False),
        StructField("features", ArrayType(FloatType(), containsNull=False), nullable=True),
    ]
)
USER_FACTORS_SCHEMA = FACTORS_SCHEMA
ITEM_FACTORS_SCHEMA = FACTORS_SCHEMA
