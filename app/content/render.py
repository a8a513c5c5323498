"""Markdown to safe HTML, done once per sync; pages serve the stored result."""
import re

import markdown
import nh3
from markupsafe import escape

# Bump when the rendering changes, so the next sync re-renders every lesson.
RENDER_VERSION = 1

_CHECKBOX = re.compile(r"^(\s*[-*] )\[( |x|X)\] ", re.MULTILINE)


def render_markdown(text: str) -> str:
    text = _CHECKBOX.sub(lambda m: m.group(1) + ("☐ " if m.group(2) == " " else "☑ "), text)
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    html = nh3.clean(html)
    # Wide tables scroll sideways on a phone instead of stretching the page.
    return (html.replace("<table>", '<div class="table-responsive"><table class="table table-sm">')
                .replace("</table>", "</table></div>"))


def render_inline(text: str) -> str:
    """Markdown for a short text (an option, a matching item): no wrapping paragraph."""
    html = render_markdown(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return html


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")   # what Python-Markdown (extra) unescapes


def markdown_text(text: str) -> str:
    """Text (a name, say) to put inside Markdown so that it shows as typed and never becomes a link,
    emphasis or HTML: Markdown's punctuation backslash-escaped, < and & as entities."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def render_plain(text: str) -> str:
    """Plain text shown as typed: escaped, line breaks kept."""
    return str(escape(text)).replace("\n", "<br>")
