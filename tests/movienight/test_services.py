"""Creating, joining, leaving and deleting groups; the owner is the longest member."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from movienight.models import Group, Membership
from movienight.selectors import group_get_by_invite, group_get_for_member, group_list_for_user
from movienight.services import (
    MAX_MEMBERS,
    InviteInvalid,
    group_create,
    group_delete,
    group_invite_regenerate,
    group_join,
    group_leave,
)
from tests.factories import UserFactory
from yourdata.services import account_delete

from .conftest import make_group

pytestmark = pytest.mark.django_db


def _members(group) -> list[str]:
    return [m.username for m in group_get_for_member(user=group.members.first(), group_id=group.pk).members]


def test_the_creator_is_the_first_member_and_owns_the_group(alice):
    group = group_create(user=alice, name="  Friday   films ")
    assert group.name == "Friday films"
    view = group_get_for_member(user=alice, group_id=group.pk)
    assert [m.username for m in view.members] == ["alice"] and view.owner.username == "alice"
    assert view.is_owner(alice)
    assert len(group.invite_token) >= 40


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_group_needs_a_name_of_at_most_100_characters(alice, name):
    with pytest.raises(ValidationError):
        group_create(user=alice, name=name)
    assert not Group.objects.exists()


def test_joining_with_the_token_adds_the_member_once(alice, bob):
    group = group_create(user=alice, name="Club")
    assert group_join(user=bob, token=group.invite_token).joined is True
    assert group_join(user=bob, token=group.invite_token).joined is False
    assert _members(group) == ["alice", "bob"]


@pytest.mark.parametrize("token", ["", "nope", "x" * 64])
def test_an_unknown_token_opens_no_group(alice, bob, token):
    group_create(user=alice, name="Club")
    with pytest.raises(InviteInvalid):
        group_join(user=bob, token=token)
    assert group_get_by_invite(token=token) is None


def test_a_group_is_full_at_twenty_members(alice):
    group = make_group(alice, *UserFactory.create_batch(MAX_MEMBERS - 1))
    with pytest.raises(ValidationError, match="full"):
        group_join(user=UserFactory(), token=group.invite_token)
    assert group.memberships.count() == MAX_MEMBERS


def test_the_owner_regenerates_the_link_and_the_old_one_stops_working(alice, bob, carol):
    group = make_group(alice, bob)
    old = group.invite_token
    with pytest.raises(PermissionDenied):
        group_invite_regenerate(user=bob, group=group)
    new = group_invite_regenerate(user=alice, group=group).invite_token
    assert new != old
    with pytest.raises(InviteInvalid):
        group_join(user=carol, token=old)
    assert group_join(user=carol, token=new).joined


def test_a_member_leaving_stays_out_and_the_group_goes_on(alice, bob, carol):
    group = make_group(alice, bob, carol)
    assert group_leave(user=bob, group=group) is False
    assert _members(group) == ["alice", "carol"]
    assert group_get_for_member(user=bob, group_id=group.pk) is None
    assert list(group_list_for_user(user=bob)) == []


def test_the_owner_leaving_hands_the_group_to_the_longest_member(alice, bob, carol):
    group = make_group(alice, bob, carol)
    assert group_leave(user=alice, group=group) is False
    view = group_get_for_member(user=bob, group_id=group.pk)
    assert view.owner.username == "bob" and [m.is_owner for m in view.members] == [True, False]
    (listed,) = group_list_for_user(user=carol)
    assert listed.owner_username == "bob" and listed.member_count == 2
    group_invite_regenerate(user=bob, group=group)  # the new owner's rights


def test_the_owner_leaving_alone_deletes_the_group(alice):
    group = group_create(user=alice, name="Just me")
    token = group.invite_token
    assert group_leave(user=alice, group=group) is True
    assert not Group.objects.exists() and not Membership.objects.exists()
    assert group_get_by_invite(token=token) is None


def test_only_the_owner_deletes_the_group(alice, bob):
    group = make_group(alice, bob)
    with pytest.raises(PermissionDenied):
        group_delete(user=bob, group=group)
    group_delete(user=alice, group=group)
    assert not Group.objects.exists() and not Membership.objects.exists()


def test_an_owner_deleting_their_account_hands_the_group_on(alice, bob, carol):
    group = make_group(alice, bob, carol)
    account_delete(user=alice)
    assert group_get_for_member(user=bob, group_id=group.pk).owner.username == "bob"


def test_a_group_whose_last_member_deleted_their_account_cannot_be_joined(alice, bob):
    group = group_create(user=alice, name="Gone")
    account_delete(user=alice)
    assert group_get_by_invite(token=group.invite_token) is None
    with pytest.raises(InviteInvalid):
        group_join(user=bob, token=group.invite_token)


def test_my_groups_lists_only_mine_newest_first(alice, bob, carol):
    first = make_group(alice, bob, name="First")
    second = make_group(carol, alice, name="Second")
    make_group(carol, name="Not alice's")
    listed = list(group_list_for_user(user=alice))
    assert [g.name for g in listed] == ["Second", "First"]
    assert [(g.owner_id, g.member_count) for g in listed] == [(carol.pk, 2), (alice.pk, 2)]
    assert {first.pk, second.pk} == {g.pk for g in listed}
