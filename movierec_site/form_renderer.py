"""The form renderer (settings.FORM_RENDERER): Django's, with its commonest widget templates written in Python.

Django draws every widget through the template engine: an <input> is text.html, input.html and attrs.html, a
<select> is select.html plus an include of select_option.html and attrs.html per option. The admin's change forms
are mostly that: the user change form's two permission lists (about 150 <option>s, each three template renders)
were half its CPU (bench/profile_page.py /admin/accounts/user/ID/change/ --user bench-staff), the movie form's
41 widgets a third of its own. This renderer writes the same characters for those templates directly, from the
same context the widget builds (Widget.get_context: choices, attributes, the selected options and the value's
formatting stay Django's), and hands every other template, and any value it does not know how to print exactly
as the template engine would (a non-text label, say), to Django's templates. tests/web/test_form_renderer.py
compares its output with Django's character for character, widget by widget and on whole admin pages.

Only Django's own widget templates are replaced: if an installed app overrides one (the renderer's engine finds
templates in every app's templates/ directory), that template is used as it is.
"""

from __future__ import annotations

from pathlib import Path

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData

_DJANGO_WIDGETS = Path(django.forms.__file__).resolve().parent / "templates"
_INPUT_TEMPLATES = {
    f"django/forms/widgets/{name}.html"
    for name in (
        "input",
        "text",
        "number",
        "email",
        "url",
        "password",
        "hidden",
        "checkbox",
        "date",
        "datetime",
        "time",
        "search",
        "tel",
        "color",
    )
}
_ATTRS = "django/forms/widgets/attrs.html"
_INPUT = "django/forms/widgets/input.html"
_SELECT = "django/forms/widgets/select.html"
_OPTION = "django/forms/widgets/select_option.html"
_TEXTAREA = "django/forms/widgets/textarea.html"


class _Unprintable(Exception):
    """A value the template engine would print otherwise than str() (a number or a date, which it localizes)."""


def _formatted(value) -> str:
    # `{{ value|stringformat:'s' }}`: str(value), escaped unless the value itself is safe (stringformat is_safe).
    return str(value) if isinstance(value, SafeData) else escape(str(value))


def _text(value) -> str:
    # `{{ value }}` for text (lazy translations included): render_value_in_context localizes numbers and dates
    # first, which is not repeated here.
    if not isinstance(value, (str, Promise)):
        raise _Unprintable
    return conditional_escape(value)


def _attrs(attrs: dict) -> str:
    # django/forms/widgets/attrs.html
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"')
    return "".join(out)


def _input(widget: dict) -> str:
    # django/forms/widgets/input.html
    value = widget["value"]
    shown = "" if value is None else f' value="{_formatted(value)}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'


def _select(widget: dict) -> str:
    # django/forms/widgets/select.html, each option as select_option.html (which ends with a newline)
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != _OPTION:
                raise _Unprintable
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict) -> str:
    # django/forms/widgets/textarea.html
    value = widget["value"]
    shown = _text(value) if value else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{shown}</textarea>'


_WRITERS = {**dict.fromkeys(_INPUT_TEMPLATES, _input), _SELECT: _select, _TEXTAREA: _textarea}


class PlainWidgetRenderer(DjangoTemplates):
    """DjangoTemplates, with Django's input, select and textarea widget templates written in Python."""

    def __init__(self):
        super().__init__()
        self._own: dict[str, bool] = {}  # template name -> the engine finds Django's own file for it

    def _is_djangos(self, template_name: str) -> bool:
        own = self._own.get(template_name)
        if own is None:
            origin = Path(self.get_template(template_name).origin.name).resolve()
            own = self._own[template_name] = origin.is_relative_to(_DJANGO_WIDGETS)
            # The option and attribute templates the writers also stand for must be Django's as well.
            if own and template_name == _SELECT:
                own = self._own[template_name] = self._is_djangos(_OPTION) and self._is_djangos(_ATTRS)
            elif own and template_name in _INPUT_TEMPLATES | {_TEXTAREA}:
                own = self._own[template_name] = self._is_djangos(_ATTRS) and (
                    template_name == _TEXTAREA or self._is_djangos(_INPUT)
                )
        return own

    def render(self, template_name, context, request=None):
        write = _WRITERS.get(template_name)
        widget = context.get("widget") if write is not None else None
        if widget is not None and self._is_djangos(template_name):
            try:
                return write(widget)
            except _Unprintable:
                pass
        return super().render(template_name, context, request)
