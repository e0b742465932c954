"""Writes for movie night: create a group, join it with its invite token, leave it, delete it, new invite link.

Every change to a group's membership locks the group's row first, so a join and the last member leaving (which
deletes the group) cannot cross, and the size limit holds under concurrent joins.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from .models import Group, Membership, new_invite_token

# Twenty fold-ins and a 20-row prediction matrix keep a group's list fast (README, "Movie night").
MAX_MEMBERS = 20
MAX_NAME_LENGTH = Group._meta.get_field("name").max_length


class InviteInvalid(Exception):
    """The invite token opens no group (never issued, replaced by a new link, or the group is gone)."""


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": ["Give the group a name."]}, code="required")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError({"name": [f"At most {MAX_NAME_LENGTH} characters."]}, code="max_length")
    return name


def group_create(*, user, name: str) -> Group:
    """A new group named `name` (whitespace collapsed), with `user` as its first member and so its owner.

    Raises ValidationError for an empty or too long name."""
    name = _clean_name(name)
    with transaction.atomic():
        group = Group.objects.create(name=name)
        Membership.objects.create(group=group, user=user)
    return group


@dataclass(frozen=True)
class JoinResult:
    group: Group
    joined: bool  # False: the user was a member already


def group_join(*, user, token: str) -> JoinResult:
    """Add `user` to the group whose invite token is `token` (nothing changes for a member).

    Raises InviteInvalid for a token that opens no group (or a group nobody is left in), ValidationError when
    the group has MAX_MEMBERS members."""
    with transaction.atomic():
        group = Group.objects.select_for_update().filter(invite_token=token).first() if token else None
        if group is None:
            raise InviteInvalid
        member_ids = set(Membership.objects.filter(group=group).values_list("user_id", flat=True))
        if not member_ids:
            raise InviteInvalid
        if user.pk in member_ids:
            return JoinResult(group=group, joined=False)
        if len(member_ids) >= MAX_MEMBERS:
            raise ValidationError(f"This group is full: a group has at most {MAX_MEMBERS} members.", code="full")
        Membership.objects.create(group=group, user=user)
    return JoinResult(group=group, joined=True)


def group_leave(*, user, group: Group) -> bool:
    """Take `user` out of `group`. The longest remaining member owns it from then on; when nobody remains, the
    group is deleted. Returns True when it was deleted. Leaving a group one is not in changes nothing."""
    with transaction.atomic():
        locked = Group.objects.select_for_update().filter(pk=group.pk).first()
        if locked is None:
            return True
        Membership.objects.filter(group=locked, user=user).delete()
        if Membership.objects.filter(group=locked).exists():
            return False
        locked.delete()
    return True


def _owner_id(group: Group) -> int | None:
    return Membership.objects.filter(group=group).order_by("joined_at", "pk").values_list("user_id", flat=True).first()


def group_delete(*, user, group: Group) -> None:
    """Delete `group` and every membership. Only its owner may: PermissionDenied otherwise."""
    with transaction.atomic():
        locked = Group.objects.select_for_update().filter(pk=group.pk).first()
        if locked is None:
            return
        if _owner_id(locked) != user.pk:
            raise PermissionDenied("Only the group's owner can delete it.")
        locked.delete()


def group_invite_regenerate(*, user, group: Group) -> Group:
    """Give `group` a new invite token: the old link stops working at once. Only its owner may: PermissionDenied
    otherwise. Returns the group with the new token."""
    with transaction.atomic():
        locked = Group.objects.select_for_update().filter(pk=group.pk).first()
        if locked is None or _owner_id(locked) != user.pk:
            raise PermissionDenied("Only the group's owner can replace its invite link.")
        locked.invite_token = new_invite_token()
        locked.save(update_fields=["invite_token"])
    return locked
