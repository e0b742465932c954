"""Form widgets that write the markup of Django's widget templates in Python, for the filter forms of the list pages.

Django renders every widget through its template engine: a <select> is select.html plus an include of
select_option.html and of attrs.html per option, an <input> is text.html, input.html and attrs.html. The browse
form's five fields came to about 50 template renders per page, which with the genre choices' query was a third of
the anonymous browse page's CPU (bench/profile_page.py /movies/ --anonymous). These widgets write the same
characters directly; tests/web/test_filter_forms.py compares them with Django's own in every state the forms use.
Anything they do not cover (option groups, multiple selection) is handed to Django's template.
"""

from __future__ import annotations

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


def _attrs(attrs: dict) -> str:
    # django/forms/widgets/attrs.html: False leaves the attribute out, True writes its bare name.
    return "".join(
        f" {conditional_escape(name)}" + ("" if value is True else f'="{conditional_escape(value)}"')
        for name, value in attrs.items()
        if value is not False
    )


class PlainTextInput(forms.TextInput):
    """forms.TextInput, written without the template engine."""

    def render(self, name, value, attrs=None, renderer=None):
        return _input(self, name, value, attrs)


class PlainNumberInput(forms.NumberInput):
    """forms.NumberInput, written without the template engine."""

    def render(self, name, value, attrs=None, renderer=None):
        return _input(self, name, value, attrs)


def _input(widget: forms.Input, name, value, attrs) -> str:
    # django/forms/widgets/input.html
    value = widget.format_value(value)
    shown = "" if value is None else f' value="{conditional_escape(value)}"'
    return mark_safe(
        f'<input type="{conditional_escape(widget.input_type)}" name="{conditional_escape(name)}"{shown}'
        f"{_attrs(widget.build_attrs(widget.attrs, attrs))}>"
    )


class PlainSelect(forms.Select):
    """forms.Select for a flat list of choices, written without the template engine."""

    def render(self, name, value, attrs=None, renderer=None):
        choices = list(self.choices)
        if self.allow_multiple_selected or any(isinstance(label, (list, tuple)) for _, label in choices):
            return super().render(name, value, attrs, renderer)
        wanted = self.format_value(value)
        options = []
        selected_one = False
        for option_value, label in choices:
            option_value = "" if option_value is None else str(option_value)
            # As ChoiceWidget.optgroups: only the first option with the value is selected.
            selected = not selected_one and option_value in wanted
            selected_one |= selected
            options.append(
                f'\n  <option value="{conditional_escape(option_value)}"{" selected" if selected else ""}>'
                f"{conditional_escape(label)}</option>\n"  # the included option template's last newline
            )
        # django/forms/widgets/select.html and select_option.html
        return mark_safe(
            f'<select name="{conditional_escape(name)}"{_attrs(self.build_attrs(self.attrs, attrs))}>'
            + "".join(options)
            + "\n</select>"
        )
