"""The hardened quickjs build: its patch, and the crash it removes (docs/transforms.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from promptwire.harden_quickjs import HARDENED_VERSION, HardenError, is_hardened, main, patch_sources

BUILD_BACKTRACE = """static void build_backtrace(JSContext *ctx, JSValueConst error_obj,
                            const char *filename, int line_num,
                            int backtrace_flags)
{
    JSStackFrame *sf;
    BOOL backtrace_barrier;

    js_dbuf_init(ctx, &dbuf);
    str = JS_NewString(ctx, (char *)dbuf.buf);
    dbuf_free(&dbuf);
    JS_DefinePropertyValue(ctx, error_obj, JS_ATOM_stack, str,
                           JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
}
"""


def sdist(tmp_path: Path, source: str = BUILD_BACKTRACE, version: str = "1.19.4") -> Path:
    (tmp_path / "upstream-quickjs").mkdir()
    (tmp_path / "upstream-quickjs" / "quickjs.c").write_text("/* before */\n" + source + "/* after */\n")
    (tmp_path / "setup.py").write_text(f"setup(name='quickjs',\n      version='{version}',\n)\n")
    return tmp_path


def test_the_patch_holds_a_reference_for_the_whole_function(tmp_path: Path) -> None:
    root = sdist(tmp_path)
    patch_sources(root)
    text = (root / "upstream-quickjs" / "quickjs.c").read_text()
    hold = text.index("JSValue error_ref = JS_DupValue(ctx, error_obj);")
    use = text.index("JS_DefinePropertyValue(ctx, error_obj, JS_ATOM_stack")
    drop = text.index("JS_FreeValue(ctx, error_ref);")
    assert hold < use < drop < text.index("/* after */")
    assert f"version='{HARDENED_VERSION}'" in (root / "setup.py").read_text()


@pytest.mark.parametrize("source, version", [
    (BUILD_BACKTRACE.replace("BOOL backtrace_barrier;", "int changed;"), "1.19.4"),
    ("static int other(void) { return 0; }\n", "1.19.4"),
    (BUILD_BACKTRACE, "1.20.0"),
])
def test_other_sources_are_refused(tmp_path: Path, source: str, version: str) -> None:
    with pytest.raises(HardenError):
        patch_sources(sdist(tmp_path, source, version))


def test_check_reports_the_installed_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == (0 if is_hardened() else 1)
    assert capsys.readouterr().out.startswith("quickjs: ")


HEAP_FILLER = """
from sansio_core.js import JsEngine, JsError, JsLimits
from sansio_core.js.source_forms import candidates
engine = JsEngine(limits=JsLimits(memory=8 * 1024 * 1024))
src = "(() => { const a = []; while (true) a.push('x'.repeat(%d)); })()"
for size in (1000, 100, 10000):
    fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(src % size, ("json",))], "t")
    try:
        engine.call(fn, {})
    except JsError as exc:
        print(exc.kind, exc)
"""


def test_heap_exhaustion_by_small_allocations_never_crashes_the_process() -> None:
    if not is_hardened():
        pytest.skip("the installed quickjs is not the hardened build (python -m promptwire.harden_quickjs)")
    for _ in range(12):  # with the wheel's build, about one process in three crashed
        done = subprocess.run([sys.executable, "-c", HEAP_FILLER], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
        assert done.stdout.splitlines() == ["memory JavaScript exceeded the memory limit (8 MiB)"] * 3
