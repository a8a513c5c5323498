"""The Jinja environment the app renders with: Flask's, made cheaper where every page pays.

What every template call costs is paid dozens of times a page (the home page makes over a hundred:
`_()`, `url_for()`, `row.text("title", lang)`, macros), so the road they take is kept short here.
Nothing a template can say changes: only how Jinja finds out what to pass a callable.
"""
import types

from flask.templating import Environment
from jinja2 import pass_context, pass_eval_context
from jinja2.runtime import Context, Macro


def pass_page_context(function):
    """Like Jinja's pass_context, for a function that reads only what the page was given (context
    processors, render_template's arguments), never a name set in a block or a loop: Jinja would
    otherwise copy the whole context with those names for each such call inside a block."""
    function = pass_context(function)
    function.page_context = True
    return function


class TemplateContext(Context):
    """Jinja's context, with a shorter road for plain functions, methods and macros.

    Jinja's call() asks every callable twice whether it wants the context passed in (on it and on its
    `__call__`), then copies the context for a pass_context function called in a block that sets
    names. A function, method or macro carries the mark on itself or not at all, so one getattr
    answers for those; anything else (a callable object, a proxy) takes Jinja's own road."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own names: "self" may be an argument)
        if type(__obj) not in _PLAIN_CALLABLES:
            return super().call(__obj, *args, **kwargs)
        loop_vars, block_vars = kwargs.pop("_loop_vars", None), kwargs.pop("_block_vars", None)
        pass_arg = getattr(__obj, "jinja_pass_arg", None)
        if pass_arg is _PASS_CONTEXT:
            if not getattr(__obj, "page_context", False):
                if loop_vars:
                    __self = __self.derived(loop_vars)
                if block_vars:
                    __self = __self.derived(block_vars)
            args = (__self, *args)
        elif pass_arg is _PASS_EVAL_CONTEXT:
            args = (__self.eval_ctx, *args)
        elif pass_arg is not None:
            args = (__self.environment, *args)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:   # as Jinja answers it
            return __self.environment.undefined("value was undefined because a callable raised a"
                                                " StopIteration exception")


_PLAIN_CALLABLES = frozenset({types.FunctionType, types.MethodType, types.BuiltinFunctionType, Macro})
_PASS_CONTEXT = pass_context(lambda: None).jinja_pass_arg
_PASS_EVAL_CONTEXT = pass_eval_context(lambda: None).jinja_pass_arg


class TemplateEnvironment(Environment):
    """Flask's Jinja environment, with each template's globals as one plain dict, and TemplateContext.

    Jinja keeps the globals as a ChainMap over the environment's globals so that a global added later
    reaches templates already loaded; every render then copies that ChainMap and every import
    compares its keys, in Python, key by key. Ours are all set while the app is built (Flask's
    add_template_global is refused once it serves), before any template is loaded."""

    context_class = TemplateContext

    def make_globals(self, d):
        return {**self.globals, **(d or {})}
