"""Turn a ``file://x.js`` module into one expression that yields the chosen function.

QuickJS could load ES modules, but only through a host module loader, which
would reopen the door to the file system. Transform files are small and
self-contained, so the text is wrapped instead: CommonJS runs with its own
``module``/``exports``; the ``export`` forms of an ES module are rewritten to
assignments on a plain object. Both are then searched, so a module with a
default export *and* named exports reaches every one of them (promptfoo
cannot reach named exports next to an ESM default).
"""

from __future__ import annotations

import json
import re

from ..errors import ConfigError

_IDENT = r"[A-Za-z_$][\w$]*"
_EXPORT_DEFAULT = re.compile(r"((?:^|(?<=[;}]))[ \t]*)export\s+default\s+", re.M)
_EXPORT_DECL = re.compile(rf"((?:^|(?<=[;}}]))[ \t]*)export\s+((?:async\s+)?function\*?|class)\s+({_IDENT})", re.M)
_EXPORT_BINDING = re.compile(rf"((?:^|(?<=[;}}]))[ \t]*)export\s+(const|let|var)\s+({_IDENT})", re.M)
_EXPORT_LIST = re.compile(r"((?:^|(?<=[;}]))[ \t]*)export\s*\{([^}]*)\}\s*;?", re.M)
_IMPORT = re.compile(r"(?:^|(?<=[;}]))[ \t]*import\s*[\w${*'\"]", re.M)
_AS = re.compile(rf"^({_IDENT})(?:\s+as\s+({_IDENT}))?$")
TYPESCRIPT = (".ts", ".cts", ".mts")


def _rewrite_esm(text: str, option: str, path: str) -> tuple[str, list[tuple[str, str]]]:
    """ESM ``export`` syntax -> plain code plus (exported name, local name) pairs."""
    exported: list[tuple[str, str]] = []
    if _IMPORT.search(text):
        raise ConfigError(
            f"{path} uses `import`; transform files run without a module loader, so they "
            "cannot import other modules (inline what you need)",
            option,
        )

    def decl(m: re.Match[str]) -> str:
        exported.append((m.group(3), m.group(3)))
        return f"{m.group(1)}{m.group(2)} {m.group(3)}"

    def binding(m: re.Match[str]) -> str:
        exported.append((m.group(3), m.group(3)))
        return f"{m.group(1)}{m.group(2)} {m.group(3)}"

    def listing(m: re.Match[str]) -> str:
        for item in m.group(2).split(","):
            item = item.strip()
            if not item:
                continue
            parts = _AS.match(item)
            if parts is None:
                raise ConfigError(f"{path}: cannot read the export list entry {item!r}", option)
            local, public = parts.group(1), parts.group(2) or parts.group(1)
            exported.append((public, local))
        return m.group(1)

    text = _EXPORT_DECL.sub(decl, text)
    text = _EXPORT_BINDING.sub(binding, text)
    text = _EXPORT_LIST.sub(listing, text)
    text = _EXPORT_DEFAULT.sub(lambda m: f"{m.group(1)}__esm.default = ", text)
    return text, exported


def module_function_source(text: str, name: str | None, path: str, option: str) -> str:
    """A JS expression that runs the module once and evaluates to the selected function."""
    if path.lower().endswith(TYPESCRIPT):
        raise ConfigError(
            f"{path} is TypeScript; compile it to JavaScript (.js) first, promptwire runs "
            "plain JavaScript only",
            option,
        )
    body, exported = _rewrite_esm(text, option, path)
    tail = "".join(f"__esm[{json.dumps(pub)}] = {local};\n" for pub, local in exported)
    return (
        "(function () {\n"
        "  const module = { exports: {} };\n"
        "  const __esm = {};\n"
        "  (function (module, exports, require, __esm) {\n"
        f"{body}\n;{tail}"
        "  })(module, module.exports, globalThis.require, __esm);\n"
        f"  return __pw_pick(module.exports, __esm, {json.dumps(name)}, {json.dumps(path)});\n"
        "})()"
    )


__all__ = ["TYPESCRIPT", "module_function_source"]
