"""Bump accounts_user.taste_version whenever a user's ratings or hidden movies change.

Statement-level triggers with transition tables: one UPDATE per statement, so a COPY of millions
of ratings costs one pass over the distinct users, not a trigger call per row. They fire for
every writer (services, admin, imports, cascades), which is what makes the version safe to key
caches on (recommendations.selectors.recommendation_list_for_user_fresh).
"""

from django.db import migrations

TABLES = ("ratings_rating", "ratings_notinterested")

FUNCTION = """
CREATE OR REPLACE FUNCTION movierec_bump_taste_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE accounts_user SET taste_version = taste_version + 1
        WHERE id IN (SELECT DISTINCT user_id FROM changed_old);
    ELSE
        UPDATE accounts_user SET taste_version = taste_version + 1
        WHERE id IN (SELECT DISTINCT user_id FROM changed_new);
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGER = """
CREATE TRIGGER {table}_taste_{event} AFTER {event} ON {table}
REFERENCING {transition} TABLE AS changed_{side}
FOR EACH STATEMENT EXECUTE FUNCTION movierec_bump_taste_version();
"""

EVENTS = (("insert", "NEW", "new"), ("update", "NEW", "new"), ("delete", "OLD", "old"))

forward = [FUNCTION] + [
    TRIGGER.format(table=table, event=event, transition=transition, side=side)
    for table in TABLES
    for event, transition, side in EVENTS
]
backward = [
    f"DROP TRIGGER IF EXISTS {table}_taste_{event} ON {table};" for table in TABLES for event, _, _ in EVENTS
] + ["DROP FUNCTION IF EXISTS movierec_bump_taste_version();"]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_taste_version"),
        ("ratings", "0002_wishlist_notinterested"),
    ]

    operations = [migrations.RunSQL(forward, backward)]
