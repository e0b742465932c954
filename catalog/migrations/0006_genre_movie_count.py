"""Keep catalog_genre.movie_count, the number of movies with the genre, for browse by genre.

Statement-level triggers with transition tables on the movies' genres (catalog_movie_genres), as ratings migration
0005 keeps the movies' rating versions: one grouped UPDATE per statement, however many rows an import writes, for
every writer (forms, admin, the importer's INSERT … SELECT, cascades). A TRUNCATE of the movies' genres sets every
count to 0. The genre rows are locked in id order first, so two statements touching the same genres queue rather
than deadlock. The existing counts are computed under a lock that holds writers of movie genres off meanwhile.
"""

from django.db import migrations, models

FUNCTION = """
CREATE OR REPLACE FUNCTION movierec_genre_movie_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE catalog_genre SET movie_count = 0 WHERE movie_count <> 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM 1 FROM catalog_genre WHERE id IN (SELECT genre_id FROM changed_new) ORDER BY id FOR UPDATE;
        UPDATE catalog_genre AS g SET movie_count = g.movie_count + c.n
        FROM (SELECT genre_id, count(*) AS n FROM changed_new GROUP BY genre_id) AS c
        WHERE g.id = c.genre_id;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM 1 FROM catalog_genre WHERE id IN (SELECT genre_id FROM changed_old) ORDER BY id FOR UPDATE;
        UPDATE catalog_genre AS g SET movie_count = g.movie_count - c.n
        FROM (SELECT genre_id, count(*) AS n FROM changed_old GROUP BY genre_id) AS c
        WHERE g.id = c.genre_id;
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = [
    """CREATE TRIGGER catalog_movie_genres_count_insert AFTER INSERT ON catalog_movie_genres
       REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT EXECUTE FUNCTION movierec_genre_movie_count();""",
    """CREATE TRIGGER catalog_movie_genres_count_update AFTER UPDATE ON catalog_movie_genres
       REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
       FOR EACH STATEMENT EXECUTE FUNCTION movierec_genre_movie_count();""",
    """CREATE TRIGGER catalog_movie_genres_count_delete AFTER DELETE ON catalog_movie_genres
       REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT EXECUTE FUNCTION movierec_genre_movie_count();""",
    """CREATE TRIGGER catalog_movie_genres_count_truncate AFTER TRUNCATE ON catalog_movie_genres
       FOR EACH STATEMENT EXECUTE FUNCTION movierec_genre_movie_count();""",
]

BACKFILL = [
    # Writers of movie genres wait until this migration commits; readers go on.
    "LOCK TABLE catalog_movie_genres IN SHARE ROW EXCLUSIVE MODE;",
    """UPDATE catalog_genre AS g SET movie_count = coalesce(
           (SELECT count(*) FROM catalog_movie_genres AS mg WHERE mg.genre_id = g.id), 0);""",
]

forward = BACKFILL + [FUNCTION] + TRIGGERS
backward = [
    f"DROP TRIGGER IF EXISTS catalog_movie_genres_count_{event} ON catalog_movie_genres;"
    for event in ("insert", "update", "delete", "truncate")
] + ["DROP FUNCTION IF EXISTS movierec_genre_movie_count();"]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_movie_rating_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="genre",
            name="movie_count",
            field=models.IntegerField(db_default=0, editable=False),
        ),
        migrations.RunSQL(forward, backward),
    ]
