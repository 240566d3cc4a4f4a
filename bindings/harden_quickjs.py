"""Rebuild the ``quickjs`` extension with the fix for its out-of-memory crash.

    python -m promptwire.harden_quickjs           # download, patch, build, install
    python -m promptwire.harden_quickjs --check   # exit 0 if the hardened build is installed

``quickjs`` 1.19.4 bundles QuickJS 2021-03-27, whose ``build_backtrace`` uses
the error it decorates after an out-of-memory error thrown inside it may have
freed it: a transform that exhausts the heap can crash the whole process
(docs/transforms.md, "Known defect"). quickjs-ng fixed it by holding a
reference for the duration; this tool makes the same two-line change to the
sdist of the same release, gives it the local version
``1.19.4+promptwire.uaf1`` (so ``--check`` and the tests can tell), and
installs it in place of the wheel. It needs ``pip`` access to the package
index, a C compiler and the Python headers; ``make`` runs it when it
bootstraps ``.venv``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

RELEASE = "1.19.4"
HARDENED_VERSION = f"{RELEASE}+promptwire.uaf1"

# Inside ``build_backtrace``: take a reference first, drop it last.
_HOLD = ("    BOOL backtrace_barrier;\n",
         "    BOOL backtrace_barrier;\n"
         "    /* promptwire: keep error_obj alive; an out-of-memory error thrown below\n"
         "       replaces (and frees) rt->current_exception, which is often error_obj */\n"
         "    JSValue error_ref = JS_DupValue(ctx, error_obj);\n")
_DROP = ("    JS_DefinePropertyValue(ctx, error_obj, JS_ATOM_stack, str,\n"
         "                           JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);\n}\n",
         "    JS_DefinePropertyValue(ctx, error_obj, JS_ATOM_stack, str,\n"
         "                           JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);\n"
         "    JS_FreeValue(ctx, error_ref);\n}\n")


class HardenError(Exception):
    """The sources are not the ones this patch was written for, or a step failed."""


def installed_version() -> str | None:
    try:
        return metadata.version("quickjs")
    except metadata.PackageNotFoundError:
        return None


def is_hardened() -> bool:
    return installed_version() == HARDENED_VERSION


def patch_sources(root: Path) -> None:
    """Apply the fix and the version marker to an extracted sdist (exact anchors, or fail)."""
    source = root / "upstream-quickjs" / "quickjs.c"
    text = source.read_text(encoding="utf-8")
    start = text.find("static void build_backtrace(")
    if start < 0:
        raise HardenError("build_backtrace not found in quickjs.c")
    end = text.find("\n}\n", start) + 3
    body = text[start:end]
    for old, new in (_HOLD, _DROP):
        if body.count(old) != 1:
            raise HardenError("quickjs.c is not the source this patch was written for")
        body = body.replace(old, new)
    source.write_text(text[:start] + body + text[end:], encoding="utf-8")
    setup = root / "setup.py"
    text = setup.read_text(encoding="utf-8")
    marked, count = re.subn(rf"version=(['\"]){re.escape(RELEASE)}\1", f"version='{HARDENED_VERSION}'", text)
    if count != 1:
        raise HardenError("setup.py does not declare version " + RELEASE)
    setup.write_text(marked, encoding="utf-8")


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"])
    if done.returncode != 0:
        raise HardenError(f"pip {args[0]} failed (exit {done.returncode})")


def build_and_install() -> None:
    with tempfile.TemporaryDirectory(prefix="promptwire-quickjs-") as scratch:
        work = Path(scratch)
        _run("download", "--no-binary", ":all:", "--no-deps", f"quickjs=={RELEASE}", "-d", str(work))
        (archive,) = work.glob(f"quickjs-{RELEASE}.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        root = work / f"quickjs-{RELEASE}"
        patch_sources(root)
        _run("install", "--no-deps", "--force-reinstall", str(root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m promptwire.harden_quickjs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether the hardened build is installed")
    args = parser.parse_args(argv)
    version = installed_version()
    if args.check or is_hardened():
        state = "hardened" if is_hardened() else f"not hardened (quickjs {version or 'not installed'})"
        print(f"quickjs: {state}")
        return 0 if is_hardened() else 1
    if version != RELEASE:
        print(f"quickjs {version} is installed; this fix is for {RELEASE} only", file=sys.stderr)
        return 2
    try:
        build_and_install()
    except HardenError as exc:
        print(f"harden_quickjs: {exc}", file=sys.stderr)
        return 1
    print(f"quickjs: hardened ({HARDENED_VERSION})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
