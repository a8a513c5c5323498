"""The app's Jinja context takes a shorter road for calls: what a template can say must not change."""
from flask import render_template_string
from flask_babel import refresh
from jinja2 import Environment, pass_context, pass_environment, pass_eval_context
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
