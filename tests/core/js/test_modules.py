"""file:// JavaScript modules: CommonJS and ES export forms, wrapped into one expression."""

from __future__ import annotations

import pytest

from sansio_core.errors import ConfigError
from sansio_core.js import JsEngine, JsError
from sansio_core.js.modules import module_function_source


def run(text: str, name: str | None = None, path: str = "m.js") -> object:
    engine = JsEngine()
    fn = engine.compile(module_function_source(text, name, path, "transformResponse"), "t")
    return engine.call(fn, {"a": 1}).value


@pytest.mark.parametrize(("text", "name", "value"), [
    ("module.exports = (json) => json.a + 1;", None, 2),
    ("exports.f = (json) => 'f';", "f", "f"),
    ("export default (json) => 'd';", None, "d"),
    ("export function f(json) { return 'f' }", "f", "f"),
    ("export async function g() { return 'g' }", "g", "g"),
    ("export class K {}\nexport const f = () => typeof K;", "f", "function"),
    ("const a = () => 'a', b = () => 'b';\nexport { a, b as bee, };", "bee", "b"),
    ("const a = () => 'a';\nexport { a };", "a", "a"),
    ("let x = 1; export let f = () => x;", "f", 1),
])
def test_exports_are_reachable(text: str, name: str | None, value: object) -> None:
    assert run(text, name) == value


def test_imports_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        module_function_source("import fs from 'fs';\nexport default () => 1", None, "m.mjs", "transformResponse")
    assert info.value.path == "transformResponse"
    assert "m.mjs uses `import`; transform files run without a module loader" in info.value.message


def test_an_unreadable_export_list_entry_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"m\.js: cannot read the export list entry 'a as'"):
        module_function_source("const a = 1; export { a as };", None, "m.js", "transformResponse")


@pytest.mark.parametrize("path", ["t.ts", "t.MTS", "t.cts"])
def test_typescript_is_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="is TypeScript; compile it to JavaScript"):
        module_function_source("export default () => 1", None, path, "transformResponse")


def test_a_missing_export_is_an_error() -> None:
    with pytest.raises(JsError, match="must export a function"):
        run("export const f = () => 1;", "g")
