"""Admin helpers shared by apps whose tables grow to millions of rows (KeysFirstPaginator serves browse too)."""

import datetime
import decimal
import json
import re

from django import template
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
    quote,
)
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import QuerySet
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext


class KeysFirstPaginator(Paginator):
    """A Paginator that reads a deep page's rows by their primary keys first.

    From `keys_first_from_offset` on, a page is read in two steps: its primary keys by a narrow query, then its rows.
    One query joins every row it skips: OFFSET 99,900 (the admin ratings list's page 1000) walked 100,000 ratings
    through the users and movies tables (395 ms at 25M), browse's page 1000 24,000 movies through their TMDB
    details. The keys alone come off the ordering's index (an index-only scan, no join when the ordering is on the
    table's own columns), and only the page's rows are joined (select_related and prefetch_related are kept).
    Shallow pages keep the single query, which is cheaper there.
    """

    keys_first_from_offset = 1_000

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if bottom < self.keys_first_from_offset or not isinstance(rows, QuerySet) or rows.query.combinator:
            return self._get_page(rows[bottom:top], number, self)
        # values_list drops select_related and keeps the ordering (made total by the caller: the admin adds -pk),
        # so the keys are the page's, in its order; the second query orders its rows the same way.
        keys = list(rows.values_list("pk", flat=True)[bottom:top])
        return self._get_page(rows.filter(pk__in=keys), number, self)


class EstimatedCountPaginator(KeysFirstPaginator):
    """Use PostgreSQL's planner estimate instead of COUNT(*) where the answer is large, and find a deep page's
    rows by their primary keys first.

    An exact COUNT(*) over 25M ratings takes seconds on every admin page load, and so does one over the
    millions of five-star ratings or the 162,541 MovieLens raters a filter selects. Unfiltered, the estimate
    is pg_class's row count; filtered or searched, the planner's estimate of the rows the query returns
    (EXPLAIN, which plans without running). Both are free and good to a few percent for the page count a
    person reads. Where the estimate is below `exact_below` the count is exact: it is cheap there, and small
    results are where people notice a wrong number (the 36,000 ratings of the most-rated movie took 0.5 s to
    count on a busy machine).
    """

    exact_below = 10_000

    @cached_property
    def count(self) -> int:
        estimate = self.estimated_count()
        if estimate is not None and estimate >= self.exact_below:
            return estimate
        return super().count

    def estimated_count(self) -> int | None:
        """The planner's idea of the number of rows, or None when the object list is no QuerySet."""
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is None:
            return None
        connection = connections[queryset.db]
        with connection.cursor() as cursor:
            if not query.where:
                table = queryset.model._meta.db_table
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
                row = cursor.fetchone()
                # -1: never analysed or vacuumed; ask the planner, which estimates from the table's size.
                if row and row[0] >= 0:
                    return int(row[0])
            try:
                sql, params = queryset.order_by().query.sql_with_params()
            except EmptyResultSet:  # .none(), or a filter no row can match
                return 0
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])


# An object id no table reaches, reversed once per admin URL and then replaced by each row's id.
_PK_PLACEHOLDER = "987654321987"
_SAFE_PK = re.compile(r"[A-Za-z0-9_.~-]+")
_change_url_parts: dict[tuple, tuple[str, str]] = {}


class PlainRowsChangeList(ChangeList):
    """The admin's ChangeList, with each row's change URL made from one reverse() per list instead of one per row."""

    def change_url_parts(self) -> tuple[str, str]:
        """The change URL before and after the object's quoted id."""
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        current_app = self.model_admin.admin_site.name
        key = (name, current_app, get_script_prefix(), get_urlconf())
        parts = _change_url_parts.get(key)
        if parts is None:
            url = reverse(name, args=(_PK_PLACEHOLDER,), current_app=current_app)
            head, _, tail = url.partition(_PK_PLACEHOLDER)
            parts = _change_url_parts[key] = (head, tail)
        return parts

    def url_for_result(self, result):
        quoted = str(quote(getattr(result, self.pk_attname)))
        if not _SAFE_PK.fullmatch(quoted):  # reverse() would percent-encode it: let it
            return super().url_for_result(result)
        head, tail = self.change_url_parts()
        return f"{head}{quoted}{tail}"


class PlainRowsAdmin:
    """A ModelAdmin mixin for long change lists: each row's action checkbox and change URL made in Python, and its
    cells written by `plain_result_list` (the template admin/plain_rows_change_list.html), the same markup as
    Django's.

    Django draws the checkbox with forms.CheckboxInput, through three widget templates per row, and reverses the
    change URL per row: about a third of the rendering of a 100-row list (bench/profile_page.py
    /admin/ratings/rating/ --user bench-staff).
    """

    change_list_template = "admin/plain_rows_change_list.html"

    def get_changelist(self, request, **kwargs):
        return PlainRowsChangeList

    def action_checkbox(self, obj):
        # As ModelAdmin.action_checkbox: the label is escaped once, by format_html; the value by escape.
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return mark_safe(
            f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" value="{escape(str(obj.pk))}" '
            f'class="action-select" aria-label="{label}">'
        )


# --- The rows of a change list, written in Python ---

register = template.Library()  # settings.TEMPLATES names this module as the "admin_rows" library

_INT_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
_TEXT_FIELDS = (models.CharField, models.TextField, models.SlugField, models.EmailField)


def _is_model_field(opts, name) -> bool:
    try:
        _get_non_gfk_field(opts, name)
    except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
        return False
    return True


def _column_plan(cl) -> list[tuple]:
    """What Django's items_for_result works out for every cell of a column, once per list: the cell's class, its
    tag and link, how its value is found and shown. Only the value and its display are left per row."""
    model_admin = cl.model_admin
    default_empty = model_admin.get_empty_value_display()
    opts = cl.lookup_opts
    plan = []
    first = True
    for index, name in enumerate(cl.list_display):
        classes = f"field-{admin_list._coerce_field_name(name, index)}"
        if name == "action_checkbox" and not _is_model_field(opts, name):
            classes = "action-checkbox"
        if cl.list_display_links is None:
            link = False
        elif first and not cl.list_display_links:
            link = True
        else:
            link = name in cl.list_display_links
        tag = None
        if link:
            tag = "th" if first else "td"
            first = False
        try:
            field = _get_non_gfk_field(opts, name)
        except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
            field = None
        empty, boolean, attr, kind = default_empty, False, None, "lookup"  # lookup: lookup_field() per row
        base = classes
        if field is not None:
            numbers = type(field) in _INT_FIELDS and not settings.USE_THOUSAND_SEPARATOR
            if field.auto_created:  # shown as a plain value (display_for_value), as Django does
                kind, field = ("int" if numbers else "value"), None
            else:
                if isinstance(field.remote_field, models.ManyToOneRel):
                    kind = "related"
                elif getattr(field, "flatchoices", None):
                    kind = "field"
                elif type(field) in _TEXT_FIELDS:
                    kind = "text"
                else:
                    kind = "int" if numbers else "field"
                if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
                    classes += " nowrap"
        elif not callable(name) and name != "__str__" and hasattr(model_admin, name):
            kind, attr = "admin", getattr(model_admin, name)
            empty = getattr(attr, "empty_value_display", default_empty)
            boolean = getattr(attr, "boolean", False)
        plan.append((name, base, classes, tag, field, kind, attr, empty, boolean))
    return plan


# Values whose display is a function of (type, value, str(value)) alone: remembered per column for one list.
_MEMO_TYPES = frozenset(
    {type(None), bool, int, float, decimal.Decimal, str, datetime.date, datetime.datetime, datetime.time}
)


def _cell_text(result, name, field, kind, attr, empty, boolean, avoid_link, model_admin, seen) -> tuple[object, bool]:
    """(what the cell shows, whether its value is a date or time) as Django's items_for_result finds it.

    `seen` remembers the column's displays by value within one list (a star value, a flag: a handful of values,
    each formatted through the active locale's formats once instead of once per row)."""
    if kind == "admin":
        value = attr(result)
    elif kind == "lookup":
        field, attr, value = lookup_field(name, result, model_admin)
        if field is None:
            empty = getattr(attr, "empty_value_display", empty)
            boolean = getattr(attr, "boolean", False)
            if isinstance(attr, property) and hasattr(attr, "fget"):
                boolean = getattr(attr.fget, "boolean", False)
        kind = "value"
    else:
        value = getattr(result, name)
    if type(value) is str and (kind == "text" or kind == "admin" and not boolean):
        if value.strip():
            return value, False
        value = ""
    if kind == "int" and type(value) is int:
        return str(value), False
    if isinstance(value, str) and value.strip() == "":
        value = ""
    if kind == "related":
        shown = getattr(result, field.name)
        return (empty if shown is None else shown), False
    key = (type(value), value, str(value)) if type(value) in _MEMO_TYPES else None
    hit = seen.get(key) if key is not None else None
    if hit is not None:
        return hit
    if field is None:  # an admin method, a model attribute or an automatic field
        hit = display_for_value(value, empty, boolean), isinstance(value, (datetime.date, datetime.time))
    else:
        hit = display_for_field(value, field, empty, avoid_link=avoid_link), False
    if key is not None:
        seen[key] = hit
    return hit


def plain_rows(cl) -> list[admin_list.ResultList] | None:
    """The rows of Django's result list (admin_list.results), each as one string of its cells.

    Django's items_for_result works out every cell's field, class, link and empty text again for every row
    (a field lookup that raises for each admin method, the empty text's translation) and puts each cell through
    format_html, then the template prints the cells one by one: over half the CPU of a 100-row list. Here that is
    worked out once per column; each row's values are displayed by Django's own functions except plain text and
    whole numbers, which they would print unchanged. tests/admin/test_admin_at_scale.py compares the two on every
    list that uses it.
    """
    model_admin = cl.model_admin
    plan = _column_plan(cl)
    pk_attname = cl.lookup_opts.pk.attname
    try:
        head, tail = cl.change_url_parts()
    except NoReverseMatch:
        return None
    marker = f"{head}{_PK_PLACEHOLDER}{tail}"
    linked = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, marker)
    link_head, _, link_tail = escape(linked).partition(_PK_PLACEHOLDER)
    seen = {column[0]: {} for column in plan}
    rows = []
    for result in cl.result_list:
        cells = []
        for name, base, classes, tag, field, kind, attr, empty, boolean in plan:
            try:
                shown, dated = _cell_text(
                    result, name, field, kind, attr, empty, boolean, tag is not None, model_admin, seen[name]
                )
            except ObjectDoesNotExist:  # as Django: the default empty text, the column's class alone
                shown, dated, classes = model_admin.get_empty_value_display(), False, base
            if dated:
                classes = f"{classes} nowrap"
            shown = conditional_escape(shown)
            if tag is None:
                cells.append(f'<td class="{classes}">{shown}</td>')
                continue
            quoted = str(quote(getattr(result, pk_attname)))
            if _SAFE_PK.fullmatch(quoted):
                cells.append(f'<{tag} class="{classes}"><a href="{link_head}{quoted}{link_tail}">{shown}</a></{tag}>')
                continue
            url = add_preserved_filters(
                {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, cl.url_for_result(result)
            )
            cells.append(format_html('<{} class="{}"><a href="{}">{}</a></{}>', tag, classes, url, shown, tag))
        rows.append(admin_list.ResultList(None, [mark_safe("".join(cells))]))
    return rows


def plain_result_list(cl):
    """admin_list.result_list, its rows written by plain_rows; Django's own for an editable list or a popup."""
    if cl.formset or cl.is_popup or not isinstance(cl, PlainRowsChangeList):
        return admin_list.result_list(cl)
    rows = plain_rows(cl)
    if rows is None:  # no change URL to link the rows to
        return admin_list.result_list(cl)
    headers = list(admin_list.result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(admin_list.result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": rows,
    }


@register.tag(name="plain_result_list")
def plain_result_list_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=plain_result_list, template_name="change_list_results.html", takes_context=False
    )
