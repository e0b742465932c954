from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_movie_title_folded_and_sort_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="movie",
            name="rating_version",
            field=models.BigIntegerField(db_default=0, editable=False),
        ),
    ]
