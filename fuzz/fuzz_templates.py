"""Fuzz the template engine: any text either renders or raises TemplateError, nothing else.

Invariant: ``TemplateEngine.compile`` + ``render`` on arbitrary text (with a
fixed set of vars of every JSON type) returns a ``str`` or raises
``TemplateError``; rendering twice gives the same text (no hidden state).

    python fuzz/fuzz_templates.py -max_total_time=3 fuzz/corpus/templates
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from sansio_core.errors import TemplateError
    from sansio_core.templating import TemplateEngine

ENGINE = TemplateEngine({"HOME": "/h"})
VARS = {"prompt": 'say "hi"\n', "n": 3, "f": 0.5, "b": True, "z": None, "arr": [1, "a", None, [2]],
        "obj": {"items": [1], "k": {"d": "e"}}}


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        template = ENGINE.compile(text)
        first = template.render(VARS)
        second = template.render(VARS)
    except TemplateError:
        return
    assert isinstance(first, str)
    assert first == second


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
