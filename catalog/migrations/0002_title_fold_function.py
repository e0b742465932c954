"""movierec_fold(text): lower case without accents, for accent-insensitive title search.

Hand-written because the embedded PostgreSQL ships without the unaccent extension.
IMMUTABLE, so an expression index on movierec_fold(title) is possible later.
"""

from django.db import migrations

ACCENTED = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķ"
    "ĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃ"
    "ȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳØøĐđŁłĦħı"
)
PLAIN = (
    "aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggghhiiiiiiiiijjkk"
    "llllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzsoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaaaa"
    "aaeeeeiiiioooorrrruuuusstthhaaeeooooooooyyooddllhhi"
)
assert len(ACCENTED) == len(PLAIN)

# translate() before lower(): lower() of non-ASCII letters depends on the database locale.
CREATE = f"""
CREATE OR REPLACE FUNCTION movierec_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fold$
    SELECT lower(
        replace(replace(replace(replace(replace(replace(replace(
            translate($1, '{ACCENTED}', '{PLAIN}'),
            'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'), 'ß', 'ss'), '’', ''''), '‘', '''')
    )
$fold$;
"""
DROP = "DROP FUNCTION IF EXISTS movierec_fold(text);"


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(CREATE, DROP),
    ]
