from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import TextField
from django.db.models.functions import Cast, Upper


class User(AbstractUser):
    """A person who signed up, or a MovieLens rater imported with the data set.

    MovieLens raters carry their MovieLens userId in `movielens_id` and an unusable password,
    so they can never log in; everyone who signed up has `movielens_id` NULL. Keeping both
    kinds in one user table lets all ratings live in one table.
    """

    movielens_id = models.PositiveIntegerField(
        unique=True, null=True, blank=True, editable=False, help_text="MovieLens userId for imported raters."
    )
    # Bumped by PostgreSQL triggers (ratings migration 0003) whenever the user's ratings or "not
    # interested" movies change, whatever wrote them: a cheap key for caching what depends on them.
    taste_version = models.BigIntegerField(db_default=0, editable=False)

    class Meta:
        db_table = "accounts_user"
        indexes = [
            # The admin's search (accounts.admin.UserAdmin): username prefix and exact e-mail, case-insensitive,
            # compared as Django writes them (UPPER(col::text) LIKE UPPER('term%')); pattern ops for the LIKE.
            models.Index(
                OpClass(Upper(Cast("username", output_field=TextField())), name="text_pattern_ops"),
                name="accounts_user_username_upper",
            ),
            models.Index(
                OpClass(Upper(Cast("email", output_field=TextField())), name="text_pattern_ops"),
                name="accounts_user_email_upper",
            ),
        ]

    @property
    def is_movielens(self) -> bool:
        return self.movielens_id is not None

    def __str__(self) -> str:
        return self.username
