"""Markdown to safe HTML, done once per sync; pages serve the stored result."""
import re

import markdown
import nh3

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
