"""Charts: pygal drawn for a phone, served as inline SVG with no script and no link.

pygal always writes an inline <script> (its tooltip config, even with js=[]) and comments with its
URLs; CSP forbids the one and we never link out. Its legend entries carry the same ids in every
chart (activate-serie-0…, for that script only), which repeat on a page of several charts; and a bar
of 0 loses its width (or height) attribute (pygal drops a falsy 0), which SVG requires. All fixed
here, once, so every chart is valid HTML and labelled for screen readers.
"""
import re

from markupsafe import Markup, escape

PYGAL_EXTRAS = re.compile(r"<script\b.*?</script>|<!--.*?-->", re.S)
PYGAL_LEGEND_ID = re.compile(r'\sid="activate-serie-\d+"')
RECT_WITHOUT = {size: re.compile(rf"<rect(?![^>]*\s{size}=)") for size in ("width", "height")}
TITLE = re.compile(r"<title>.*?</title>", re.S)


def inline_svg(chart, aria_label: str) -> Markup:
    """The rendered chart, cleaned, with its title and aria-label set to `aria_label`."""
    svg = PYGAL_EXTRAS.sub("", chart.render(is_unicode=True))
    svg = PYGAL_LEGEND_ID.sub("", svg)
    for size, missing in RECT_WITHOUT.items():
        svg = missing.sub(f'<rect {size}="0"', svg)
    label = str(escape(aria_label))
    svg = TITLE.sub(lambda _: f"<title>{label}</title>", svg, count=1)
    return Markup(svg.replace("<svg", f'<svg role="img" aria-label="{label}"', 1))
