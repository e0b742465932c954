"""Spreadsheet-safe CSV cells, written by the take-away files and read back by the rating importer.

A cell starting with = + - @, a tab or a carriage return is run as a formula by spreadsheets (OWASP's
"CSV injection"); such text cells get a leading apostrophe on the way out and lose it on the way in.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text`, with an apostrophe in front if a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def spreadsheet_unsafe(text: str) -> str:
    """The inverse of `spreadsheet_safe`, for reading such a file back."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
