"""Bump catalog_movie.rating_version whenever a movie's ratings change.

The per-movie twin of 0003's taste version: statement-level triggers with transition tables (a COPY of
millions of ratings costs one pass over the distinct movies), firing for every writer (services, admin,
imports, cascades), so the item fold-in cached per (run, movie, version) is never stale
(recommendations.cold_items). Rows are locked in id order first: two statements touching the same movies
(bulk imports, say) then queue behind each other instead of deadlocking.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION movierec_bump_movie_rating_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE catalog_movie SET rating_version = rating_version + 1
        WHERE id IN (
            SELECT id FROM catalog_movie WHERE id IN (SELECT movie_id FROM changed_old) ORDER BY id FOR UPDATE
        );
    ELSE
        UPDATE catalog_movie SET rating_version = rating_version + 1
        WHERE id IN (
            SELECT id FROM catalog_movie WHERE id IN (SELECT movie_id FROM changed_new) ORDER BY id FOR UPDATE
        );
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGER = """
CREATE TRIGGER ratings_rating_movie_version_{event} AFTER {event} ON ratings_rating
REFERENCING {transition} TABLE AS changed_{side}
FOR EACH STATEMENT EXECUTE FUNCTION movierec_bump_movie_rating_version();
"""

EVENTS = (("insert", "NEW", "new"), ("update", "NEW", "new"), ("delete", "OLD", "old"))

forward = [FUNCTION] + [
    TRIGGER.format(event=event, transition=transition, side=side) for event, transition, side in EVENTS
]
backward = [f"DROP TRIGGER IF EXISTS ratings_rating_movie_version_{event} ON ratings_rating;" for event, _, _ in EVENTS] + [
    "DROP FUNCTION IF EXISTS movierec_bump_movie_rating_version();"
]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_movie_rating_version"),
        ("ratings", "0004_rating_import"),
    ]

    operations = [migrations.RunSQL(forward, backward)]
