from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_movie_details"),
    ]

    operations = [
        migrations.AddField(
            model_name="movie",
            name="rating_version",
            field=models.BigIntegerField(db_default=0, editable=False),
        ),
    ]
