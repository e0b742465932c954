"""Movie night pages: your groups, a group's list, joining by invite link, leaving and deleting."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from recommendations.forms import DEFAULT_MIN_RATINGS

from .forms import GroupCreateForm, GroupMoviesFilterForm
from .ranking import AGGREGATIONS, AVERAGE
from .selectors import GroupView, group_get_by_invite, group_get_for_member, group_list_for_user, group_movie_list
from .services import (
    MAX_MEMBERS,
    InviteInvalid,
    group_create,
    group_delete,
    group_invite_regenerate,
    group_join,
    group_leave,
)

GROUP_MOVIES_SHOWN = 30


def _group_or_404(request, group_id: int) -> GroupView:
    view = group_get_for_member(user=request.user, group_id=group_id)
    if view is None:  # no such group, or not yours: the same answer, so groups do not leak
        raise Http404("No such group.")
    return view


def invite_url(request, group) -> str:
    return request.build_absolute_uri(reverse("movienight_join", args=[group.invite_token]))


@login_required
@require_http_methods(["GET", "POST"])
def group_list(request):
    form = GroupCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = group_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("name", exc.message_dict.get("name", exc.messages))
        else:
            messages.success(request, f"Group “{group.name}” created: share its invite link with the others.")
            return redirect("movienight_group", group.pk)
    return render(
        request, "movienight/group_list.html", {"form": form, "groups": group_list_for_user(user=request.user)}
    )


@login_required
@require_http_methods(["GET"])
@never_cache
def group_detail(request, group_id: int):
    view = _group_or_404(request, group_id)
    form = GroupMoviesFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    min_ratings = data.get("min_ratings")
    if min_ratings is None:
        min_ratings = DEFAULT_MIN_RATINGS
    aggregation = data.get("aggregation") or AVERAGE
    result = group_movie_list(
        view=view, aggregation=aggregation, genre=data.get("genre"), min_ratings=min_ratings, limit=GROUP_MOVIES_SHOWN
    )
    return render(
        request,
        "movienight/group_detail.html",
        {
            "view": view,
            "group": view.group,
            "is_owner": view.is_owner(request.user),
            "invite_url": invite_url(request, view.group),
            "form": form,
            "aggregation": aggregation,
            "aggregation_label": AGGREGATIONS[aggregation],
            "min_ratings": min_ratings,
            "result": result,
            "max_members": MAX_MEMBERS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def group_join_page(request, token: str):
    """The invite link. Anonymous visitors log in first (and come back here); members go to the group."""
    group = group_get_by_invite(token=token)
    if group is None:
        raise Http404("This invite link does not work (any more). Ask for a new one.")
    if request.method == "POST":
        try:
            result = group_join(user=request.user, token=token)
        except InviteInvalid:
            raise Http404("This invite link does not work (any more). Ask for a new one.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if result.joined:
                messages.success(request, f"You joined “{result.group.name}”.")
            return redirect("movienight_group", result.group.pk)
    elif group_get_for_member(user=request.user, group_id=group.pk) is not None:
        return redirect("movienight_group", group.pk)
    return render(request, "movienight/join.html", {"group": group, "max_members": MAX_MEMBERS})


@login_required
@require_POST
def group_leave_page(request, group_id: int):
    view = _group_or_404(request, group_id)
    deleted = group_leave(user=request.user, group=view.group)
    if deleted:
        messages.success(request, f"You left “{view.group.name}”; nobody was left in it, so it is deleted.")
    else:
        messages.success(request, f"You left “{view.group.name}”.")
    return redirect("movienight_groups")


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def group_delete_page(request, group_id: int):
    view = _group_or_404(request, group_id)
    if not view.is_owner(request.user):
        raise PermissionDenied("Only the group's owner can delete it.")
    if request.method == "POST":
        group_delete(user=request.user, group=view.group)
        messages.success(request, f"Group “{view.group.name}” deleted.")
        return redirect("movienight_groups")
    return render(request, "movienight/delete.html", {"view": view, "group": view.group})


@login_required
@require_POST
def group_invite_page(request, group_id: int):
    view = _group_or_404(request, group_id)
    group_invite_regenerate(user=request.user, group=view.group)  # PermissionDenied (403) unless the owner
    messages.success(request, "New invite link made: the old one no longer works.")
    return redirect("movienight_group", view.group.pk)
