"""Visitor text shown as text: escaped for Gradio's Markdown (and HTML toasts), never rendered as markup."""

from __future__ import annotations

import html
import re

# Characters Markdown gives a meaning to; a backslash before each makes it literal.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()|~$])")


def escape_markdown(text: str) -> str:
    """``text`` on one line as Markdown that renders to exactly that: HTML escaped, Markdown marks backslashed."""
    one_line = " ".join(text.split())  # a line break could start a heading or a list
    return _MARKDOWN.sub(r"\\\1", html.escape(one_line, quote=False))
