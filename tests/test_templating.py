"""The app's Jinja context takes a shorter road for calls, and the header and tab bar are drawn once: what a
template can say, and what a page shows, must not change."""
import re

from flask import render_template_string
from flask_babel import refresh
from jinja2 import Environment, meta, pass_context, pass_environment, pass_eval_context
from jinja2.runtime import Context

from app.templating import TemplateContext, TemplateEnvironment, pass_page_context


class Shout:
    """A callable object: Jinja's own road."""

    def __call__(self, text):
        return text.upper()


def render(source: str, context_class=TemplateContext, **values) -> str:
    environment = Environment(autoescape=True)
    environment.context_class = context_class
    environment.globals.update(
        shout=Shout(),
        block_name=pass_context(lambda context, name: context.get(name, "-")),
        page_name=pass_page_context(lambda context, name: context.get(name, "-")),
        escaping=pass_eval_context(lambda eval_ctx: str(eval_ctx.autoescape)),
        environment_kind=pass_environment(lambda environment: type(environment).__name__),
        stop=lambda: next(iter(())),
    )
    return environment.from_string(source).render(**values)


def same_as_jinja(source: str, **values) -> str:
    ours = render(source, **values)
    assert ours == render(source, Context, **values)
    return ours


def test_the_app_renders_with_our_context(app):
    assert isinstance(app.jinja_env, TemplateEnvironment)
    assert isinstance(app.jinja_env.from_string("x").new_context(), TemplateContext)


def test_plain_functions_methods_and_callable_objects_are_called_with_their_arguments():
    assert same_as_jinja("{{ shout('a') }} {{ 'b'.upper() }} {{ '-'.join(['c', 'd']) }} {{ values.get('k') }}",
                         values={"k": "v"}) == "A B c-d v"


def test_context_functions_see_names_set_in_blocks_and_loops_as_jinja_gives_them():
    source = ("{% set outer = 'o' %}{% for item in [1] %}{% set inner = 'i' %}"
              "{{ block_name('outer') }}{{ block_name('inner') }}{{ block_name('item') }}{% endfor %}"
              "|{{ page_name('given') }}")
    assert same_as_jinja(source, given="g") == "oi-|g"


def test_the_other_marks_and_macros():
    source = ("{% macro twice(x) %}{{ x }}{{ x }}{% endmacro %}{{ twice('<') }} {{ escaping() }} "
              "{{ environment_kind() }} [{{ stop() }}]")
    assert same_as_jinja(source) == "&lt;&lt; True Environment []"


def test_a_macro_passes_its_caller():
    source = "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"
    assert same_as_jinja(source) == "[in]"


def test_translated_strings_are_remembered_per_language_and_stay_escaped(app):
    source = "{{ _('Hello, %(name)s', name=who) }}"
    for language, hello in (("en", "Hello, "), ("zh-CN,zh;q=0.9", "你好，"), ("en", "Hello, ")):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            refresh()   # Flask-Babel keeps the locale on the app context, which the fixture holds
            first, again = (render_template_string(source, who="<b>") for _ in range(2))
        assert first == again == hello + "&lt;b&gt;"


# What each fragment is given (base.html); besides these it may use only the templates' pure helpers.
FRAGMENT_VALUES = {"_header.html": {"signed_in", "tabs", "staff", "admin", "unread_count"},
                   "_tabbar.html": {"active", "unread_count"}}
PURE_HELPERS = {"_", "ngettext", "url_for", "icon"}


def test_a_remembered_fragment_reads_only_the_values_it_is_given(app):
    """It is drawn once for everyone with the same values: reading current_user, the request or the
    session there would show one person what another was shown."""
    for name, values in FRAGMENT_VALUES.items():
        source = app.jinja_env.loader.get_source(app.jinja_env, name)[0]
        assert meta.find_undeclared_variables(app.jinja_env.parse(source)) <= values | PURE_HELPERS, name
    base = app.jinja_env.loader.get_source(app.jinja_env, "base.html")[0]
    assert set(re.findall(r'fragment\("([^"]+)"', base)) == set(FRAGMENT_VALUES)


def test_fragments_are_remembered_per_language_and_values(app):
    source = '{{ fragment("_tabbar.html", active=tab, unread_count=unread) }}'
    pages = {}
    for language in ("en", "zh-CN,zh;q=0.9"):
        for tab, unread in (("learn", 0), ("me", 3), ("learn", 0)):
            with app.test_request_context("/", headers={"Accept-Language": language}):
                refresh()
                pages[language, tab, unread] = html = render_template_string(source, tab=tab, unread=unread)
            assert f'data-tab="{tab}" aria-current="page"' in html
            assert ('id="tab-inbox-badge">3<' in html) == (unread == 3)
    assert "Learn" in pages["en", "learn", 0] and "学习" in pages["zh-CN,zh;q=0.9", "learn", 0]
