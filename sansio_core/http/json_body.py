"""An object or JSON-string body as sent with a JSON content type (promptfoo's ``processJsonBody``).

The JSON-string rule (spec 6.2 / 6.3): strings that start with ``{`` or ``[``
and parse to an object or array become that structure. ``JsonBody`` renders a
body per call; a templated object body is cut once into static JSON text
around its templated strings (``_Splice``), so a call only renders those
strings and splices their JSON literals in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..js.jsvalue import _dump_compact, _plain, js_json, js_json_parse, js_trim
from ..templating import ObjectTemplate, Template, TemplateEngine
from .message import json_escaped_vars


def parse_json_strings(value: Any) -> Any:
    """Strings (trimmed) starting with ``{`` or ``[`` that parse to an object or array become it."""
    if isinstance(value, str):
        head = js_trim(value)[:1]
        if head == "{" or head == "[":
            try:
                parsed = js_json_parse(value)
            except ValueError:
                return value
            if isinstance(parsed, (dict, list)):
                return parsed
        return value
    if isinstance(value, dict):
        return {k: parse_json_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [parse_json_strings(v) for v in value]
    return value


_NO_BODY = object()

_Render = Callable[[Mapping[str, Any]], Any]


def _json_tree(value: Any, engine: TemplateEngine) -> _Render | None:
    """A renderer equal to ``parse_json_strings(compile_object(value).render(vars))``,
    or ``None`` when ``value`` has no template (then it is used as is)."""
    if isinstance(value, str):
        template = engine.compile(value)
        if not template.has_tags:
            return None
        render = template.render
        return lambda vars: parse_json_strings(render(vars))
    if isinstance(value, dict):
        parts = [(k, v, _json_tree(v, engine)) for k, v in value.items()]
        if all(r is None for _, _, r in parts):
            return None
        fixed = [(k, r if r is not None else None, parse_json_strings(v) if r is None else None)
                 for k, v, r in parts]

        def render_dict(vars: Mapping[str, Any]) -> Any:
            return {k: (r(vars) if r is not None else static) for k, r, static in fixed}

        return render_dict
    if isinstance(value, list):
        items = [(_json_tree(v, engine), v) for v in value]
        if all(r is None for r, _ in items):
            return None
        fixed_items = [(r, parse_json_strings(v) if r is None else None) for r, v in items]

        def render_list(vars: Mapping[str, Any]) -> Any:
            return [r(vars) if r is not None else static for r, static in fixed_items]

        return render_list
    return None


class _Slot:
    """Where a templated string sits in a body skeleton (``_Splice``)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Splice:
    """A templated object body as JSON text cut around its templated strings.

    ``js_json(_json_tree(body)(vars))`` is, whenever every templated string
    renders to text that the JSON-string rule leaves as a string, the static
    text with each rendered string's JSON literal spliced in: the static parts
    are serialised once, here. ``text`` renders the templates in the order the
    tree walk renders them and falls back to building that tree (from the very
    strings it rendered, never rendering twice) when one of them starts with
    ``{`` or ``[``.
    """

    __slots__ = ("_parts", "_renders", "_skeleton")

    def __init__(self, parts: list[str], renders: list[Callable[[Mapping[str, Any]], str]], skeleton: Any) -> None:
        self._parts = parts  # len(renders) + 1 pieces of JSON text
        self._renders = renders
        self._skeleton = skeleton  # the body with ``_Slot``s for the templated strings

    @classmethod
    def compile(cls, body: Any, engine: TemplateEngine) -> _Splice | None:
        """``None`` when the body's JSON text cannot be cut this way (a value that
        ``JSON.stringify`` prints differently from Python, an integer-like key, ...)."""
        renders: list[Callable[[Mapping[str, Any]], str]] = []
        marks: list[str] = []

        def walk(value: Any) -> tuple[Any, Any]:
            # (the skeleton with _Slot markers, the same with placeholder strings)
            if isinstance(value, str):
                template = engine.compile(value)
                if not template.has_tags:
                    static = parse_json_strings(value)
                    return static, static
                mark = f"\x00promptwire-slot-{len(renders)}\x00"
                renders.append(template.render)
                marks.append(mark)
                return _Slot(len(renders) - 1), mark
            if isinstance(value, dict):
                pairs = [(k, walk(v)) for k, v in value.items()]
                return {k: a for k, (a, _) in pairs}, {k: b for k, (_, b) in pairs}
            if isinstance(value, list):
                items = [walk(v) for v in value]
                return [a for a, _ in items], [b for _, b in items]
            return value, value

        if not isinstance(body, (dict, list)):
            return None
        skeleton, marked = walk(body)
        if not renders or not _plain(marked):
            return None
        text = js_json(marked)
        parts: list[str] = []
        for mark in marks:
            literal = js_json(mark)
            if text.count(literal) != 1:
                return None
            before, _, text = text.partition(literal)
            parts.append(before)
        parts.append(text)
        return cls(parts, renders, skeleton)

    def text(self, vars: Mapping[str, Any]) -> str:
        parts = self._parts
        renders = self._renders
        if len(renders) == 1:
            rendered = renders[0](vars)
            head = js_trim(rendered)[:1]
            if head != "{" and head != "[":
                return parts[0] + _dump_compact(rendered) + parts[1]
            return self._tree_text([rendered])
        strings = [render(vars) for render in renders]
        out = [parts[0]]
        for rendered, part in zip(strings, parts[1:], strict=True):
            head = js_trim(rendered)[:1]
            if head == "{" or head == "[":
                return self._tree_text(strings)
            out.append(_dump_compact(rendered))
            out.append(part)
        return "".join(out)

    def _tree_text(self, strings: list[str]) -> str:
        def fill(value: Any) -> Any:
            if type(value) is _Slot:
                return parse_json_strings(strings[value.index])
            if type(value) is dict:
                return {k: fill(v) for k, v in value.items()}
            if type(value) is list:
                return [fill(v) for v in value]
            return value

        return js_json(fill(self._skeleton))


class JsonBody:
    """``processJsonBody``: the config body as it is sent with a JSON content type."""

    __slots__ = ("_object", "_splice", "_static", "_template", "_tree", "places_prompt")

    def __init__(self, body: Any, engine: TemplateEngine) -> None:
        # An object/list body with a string that renders `prompt`: an array from
        # transformRequest is put there (see ``RequestPlan._render_body``).
        self.places_prompt = False
        self._tree: Callable[[Mapping[str, Any]], Any] | None = None
        self._template: Template | None = None
        self._object: ObjectTemplate | None = None
        self._static: Any = _NO_BODY
        self._splice: _Splice | None = None
        if isinstance(body, str):
            try:
                body = js_json_parse(body)
            except ValueError:
                pass
            else:
                if not isinstance(body, str):
                    self._init_object(body, engine)
                    return
            self._template = engine.compile(body)
            return
        self._init_object(body, engine)

    def _init_object(self, body: Any, engine: TemplateEngine) -> None:
        self.places_prompt = any("prompt" in engine.referenced_names(text) for text in _strings(body))
        self._object = engine.compile_object(body)
        if not self._object.dynamic:
            self._static = parse_json_strings(body)
            return
        # Hot path: render and apply the JSON-string rule in one walk that only
        # visits templated leaves (static subtrees were processed just above).
        self._tree = _json_tree(body, engine)
        if self._tree is not None:
            self._splice = _Splice.compile(body, engine)

    def text(self, vars: Mapping[str, Any]) -> str | None:
        """``js_json(self.render(vars))`` when it can be spliced (see ``_Splice``), else ``None``."""
        splice = self._splice
        return None if splice is None else splice.text(vars)

    def render(self, vars: Mapping[str, Any]) -> Any:
        if self._static is not _NO_BODY:
            return self._static
        if self._tree is not None:
            return self._tree(vars)
        if self._object is not None:
            return parse_json_strings(self._object.render(vars))
        assert self._template is not None
        text = self._template.render(vars)
        try:
            return js_json_parse(text)
        except ValueError:
            pass
        if js_trim(text)[:1] in ("{", "["):
            try:
                return js_json_parse(self._template.render(json_escaped_vars(vars)))
            except ValueError:
                pass
        return text


def _strings(value: Any) -> list[str]:
    """Every string leaf of a body (mappings and lists walked, keys untouched)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


__all__ = ["JsonBody", "parse_json_strings"]
