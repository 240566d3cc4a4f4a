"""Bounds on what one template render may cost: template bombs end fast in ``TemplateError``.

jinja2's sandbox stops attribute escapes but not arithmetic: ``{{ 7 ** 999999999 }}``
or ``{{ 'x' * 2000000000 }}`` runs for minutes or exhausts memory, and jinja folds
constant expressions while *compiling*, so such a config hangs target building.
Here, with no clock available to the core, work is counted instead of time:

* **Operators** ``**``, ``*``, ``+``, ``%``, ``//`` are intercepted
  (``SandboxedEnvironment.intercepted_binops``; jinja never folds an
  intercepted operator at compile time). A result over
  ``MAX_TEMPLATE_INT_BITS`` bits or a string/list over ``MAX_RENDERED_TEMPLATE``
  items is refused *before* it is built; ``str % args`` (Python formatting,
  which Nunjucks does not have) is refused.
* **Concatenation** ``a ~ b`` is rewritten into a checked call.
* **Calls** (``'x'.ljust(n)``, ``replace``...) and the width-taking filters
  refuse sizes over the cap before running; any call's string or list result
  is checked after.
* **Loops**: each ``{% for %}`` iteration, operator and call costs one unit of
  the render's budget (``MAX_TEMPLATE_WORK``); nested loops over ``range``
  cannot run for hours.
* **Output** is counted while rendering (``Template.render`` streams the
  chunks), so the 32 MiB cap stops a render as soon as it is passed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError
from .limits import MAX_RENDERED_TEMPLATE, MAX_TEMPLATE_INT_BITS, MAX_TEMPLATE_WORK

BUDGET = "__pw_budget"
CONCAT = "__pw_concat"
_BUDGET_ATTR = "_pw_budget"


class Budget(Mapping[str, str]):
    """Work units and output characters one render may still use.

    Bound in the render's context as ``__pw_budget``; a loop's tick is the
    attribute read ``__pw_budget.tick`` (a mapping read in this environment),
    far cheaper than a sandboxed call.
    """

    __slots__ = ("output", "work")

    def __init__(self, work: int = MAX_TEMPLATE_WORK, output: int = MAX_RENDERED_TEMPLATE) -> None:
        self.work = work
        self.output = output

    def spend(self, units: int = 1) -> None:
        self.work -= units
        if self.work < 0:
            raise TemplateError(
                f"template did more than {MAX_TEMPLATE_WORK} steps (loop iterations, operators, calls); "
                "limits.MAX_TEMPLATE_WORK")

    def __getitem__(self, key: str) -> str:
        self.spend()
        return ""

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[str]:
        return iter(())


def _budget(context: Context | None) -> Budget | None:
    return getattr(context, _BUDGET_ATTR, None) if context is not None else None


def attach(context: Context, budget: Budget) -> None:
    setattr(context, _BUDGET_ATTR, budget)
    context.vars[BUDGET] = budget


def _too_big(what: str, size: int) -> TemplateError:
    return TemplateError(f"template {what} would make {size} items, more than the limit of "
                         f"{MAX_RENDERED_TEMPLATE} (limits.MAX_RENDERED_TEMPLATE)")


def _bits(value: Any) -> int:
    return value.bit_length() if type(value) is int else 0


def _check_int(value: Any) -> Any:
    if type(value) is int and value.bit_length() > MAX_TEMPLATE_INT_BITS:
        raise TemplateError(f"template arithmetic result has more than {MAX_TEMPLATE_INT_BITS} bits "
                            "(limits.MAX_TEMPLATE_INT_BITS)")
    return value


def _sized(value: Any) -> bool:
    return isinstance(value, (str, list, tuple))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def checked_binop(op: str, left: Any, right: Any) -> Any:
    """``left <op> right``, refused before it is computed when the result would be too big."""
    if op == "**":
        if (_is_int(left) and _is_int(right) and right > 0 and abs(left) > 1
                and (abs(left).bit_length() - 1) * right > MAX_TEMPLATE_INT_BITS):
            raise TemplateError(f"template arithmetic {left} ** {right} is too large "
                                f"(more than {MAX_TEMPLATE_INT_BITS} bits; limits.MAX_TEMPLATE_INT_BITS)")
        return _check_int(operator.pow(left, right))
    if op == "*":
        if (_sized(left) and _is_int(right)) or (_sized(right) and _is_int(left)):
            seq, n = (left, right) if _sized(left) else (right, left)
            if len(seq) * max(n, 0) > MAX_RENDERED_TEMPLATE:
                raise _too_big("repetition", len(seq) * n)
        elif _bits(left) + _bits(right) > MAX_TEMPLATE_INT_BITS + 1:
            raise TemplateError(f"template arithmetic result has more than {MAX_TEMPLATE_INT_BITS} bits "
                                "(limits.MAX_TEMPLATE_INT_BITS)")
        return operator.mul(left, right)
    if op == "+":
        if _sized(left) and _sized(right) and len(left) + len(right) > MAX_RENDERED_TEMPLATE:
            raise _too_big("concatenation", len(left) + len(right))
        return _check_int(operator.add(left, right))
    if op == "%":
        if isinstance(left, str):
            raise TemplateError("template string formatting with % is not available (Nunjucks has no such "
                                "operator); use ~ or the replace filter")
        return operator.mod(left, right)
    if op == "//":
        return operator.floordiv(left, right)
    raise TemplateError(f"unsupported operator {op}")  # pragma: no cover - only the intercepted ones come here


def concat(*parts: Any) -> str:
    """``a ~ b ~ c``: jinja's Concat (``str`` of each part), the total size checked before joining."""
    texts = [p if isinstance(p, str) else str(p) for p in parts]
    size = sum(map(len, texts))
    if size > MAX_RENDERED_TEMPLATE:
        raise _too_big("concatenation", size)
    return "".join(texts)


# str methods whose integer argument is the size of the result.
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call that would build something over the cap, before it runs."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str):
        if name in _WIDTH_METHODS:
            width = next((a for a in (*args, *kwargs.values()) if _is_int(a)), 0)
            if width * (8 if name == "expandtabs" else 1) > MAX_RENDERED_TEMPLATE:
                raise _too_big(f"{name}()", width)
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            check_replace(owner, args[0], args[1])


def check_replace(text: str, old: str, new: str) -> None:
    count = len(text) + 1 if old == "" else text.count(old)
    size = len(text) + count * (len(new) - len(old))
    if size > MAX_RENDERED_TEMPLATE:
        raise _too_big("replace", size)


def check_result(value: Any) -> Any:
    if _sized(value) and len(value) > MAX_RENDERED_TEMPLATE:
        raise _too_big("call", len(value))
    return value


def checked_width_filter(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose arguments size its result (``center``, ``indent``, ``replace``...):
    refused before it runs when the result would pass the cap."""
    passes = getattr(fn, "jinja_pass_arg", None)  # pass_environment / pass_eval_context come first
    skip = 1 if passes is not None else 0
    name = getattr(fn, "__name__", "filter")

    def apply(*all_args: Any, **kwargs: Any) -> Any:
        value, args = all_args[skip], all_args[skip + 1:]
        for a in (*args, *kwargs.values()):
            if _is_int(a) and a > MAX_RENDERED_TEMPLATE:
                raise _too_big("filter width", a)
        if isinstance(value, str):
            if name == "do_indent":
                width = next((a for a in args if _is_int(a)), 4)
                if (value.count("\n") + 1) * max(width, 0) > MAX_RENDERED_TEMPLATE:
                    raise _too_big("indent", (value.count("\n") + 1) * width)
            elif name == "do_replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                check_replace(value, args[0], args[1])
        return check_result(fn(*all_args, **kwargs))

    apply.__name__ = name
    if passes is not None:
        apply.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return apply


def instrument(tree: nodes.Template) -> nodes.Template:
    """Every loop body starts by spending one unit; every ``~`` becomes a checked call."""
    for loop in tree.find_all(nodes.For):
        loop.body.insert(0, nodes.ExprStmt(nodes.Getattr(nodes.Name(BUDGET, "load"), "tick", "load")))
    for node in list(tree.find_all(nodes.Concat)):
        node.nodes = [nodes.Call(nodes.Name(CONCAT, "load"), list(node.nodes), [], None, None)]
    return tree


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox with the bounds above (see the module docstring)."""

    intercepted_binops = frozenset({"**", "*", "+", "%", "//"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget(context)
        if budget is not None:
            budget.spend()
        return checked_binop(operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget(__context)
        if budget is not None:
            budget.spend()
        check_call(__obj, args, kwargs)
        return check_result(super().call(__context, __obj, *args, **kwargs))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return instrument(super()._parse(source, name, filename))


def bounded_output(chunks: Iterator[str], budget: Budget, source: str) -> str:
    """Join the render's chunks, stopping as soon as the output cap is passed."""
    out: list[str] = []
    for chunk in chunks:
        budget.output -= len(chunk)
        if budget.output < 0:
            raise TemplateError(f"template {source} rendered more than the limit of {MAX_RENDERED_TEMPLATE} "
                                "characters (limits.MAX_RENDERED_TEMPLATE)")
        out.append(chunk)
    return "".join(out)


__all__ = ["BUDGET", "CONCAT", "BoundedSandbox", "Budget", "attach", "bounded_output", "checked_binop",
           "checked_width_filter", "concat", "instrument"]
