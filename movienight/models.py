"""Movie-night groups: people who want a list of movies none of them has seen, ranked for all of them."""

import secrets

from django.conf import settings
from django.db import models


def new_invite_token() -> str:
    # 32 random bytes, URL-safe (43 characters): unguessable, and fits a <slug:> URL segment.
    return secrets.token_urlsafe(32)


class Group(models.Model):
    """A group of people choosing a movie together; they join with its invite link.

    The owner is not stored: it is the member who has been in the group longest (earliest `joined_at`,
    then lowest membership id), so the creator owns it until they leave, and ownership passes to the
    longest member by itself, also when an owner's account is deleted (the membership cascades).
    """

    name = models.CharField(max_length=100)
    invite_token = models.CharField(max_length=64, unique=True, default=new_invite_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="movie_groups")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    # No separate user index: the unique (user, group) constraint leads with user_id ("my groups").
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="movie_group_memberships", db_index=False
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="movienight_membership_unique_user_group"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in group {self.group_id}"
