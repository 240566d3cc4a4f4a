"""file:// references: how they are split, found in a config, and resolved."""

from __future__ import annotations

import pytest

from sansio_core.sources import Sources, find_file_refs, resolve_path, split_file_ref


@pytest.mark.parametrize(("ref", "split"), [
    ("file://t.js:parse", ("t.js", "parse")),
    ("file://dir/t.py:fn", ("dir/t.py", "fn")),
    ("file://t.MJS:fn", ("t.MJS", "fn")),
    ("file://t.js", ("t.js", None)),
    ("file://c:/x/data.json", ("c:/x/data.json", None)),
    ("file://a.txt:b", ("a.txt:b", None)),
    ("file://t.js:", ("t.js:", None)),
    ("file://t.js:a/b", ("t.js:a/b", None)),
    ("plain.js:f", ("plain.js", "f")),
])
def test_split_file_ref_only_splits_code_files(ref: str, split: tuple[str, str | None]) -> None:
    assert split_file_ref(ref) == split


def test_find_file_refs_walks_values_not_keys() -> None:
    config = {"transformResponse": "file://t.js", "body": {"doc": ["file://a.txt", {"x": "file://b.txt"}],
                                                            "file://key": "v"},
              "n": 1, "t": ("file://c.txt",), "s": "not a file://ref"}
    assert list(find_file_refs(config)) == [
        (("transformResponse",), "file://t.js"), (("body", "doc"), "file://a.txt"),
        (("body", "doc", "x"), "file://b.txt"), (("t",), "file://c.txt")]


def test_resolve_path_against_the_config_directory() -> None:
    assert resolve_path("/cfg", "t.js") == "/cfg/t.js"
    assert resolve_path("/cfg/sub", "../t.js") == "/cfg/t.js"
    assert resolve_path("/cfg", "/abs/t.js") == "/abs/t.js"


def test_file_text_decodes_utf8_and_missing_files_are_key_errors() -> None:
    sources = Sources(files={"a.txt": "é".encode()})
    assert sources.file_text("a.txt") == "é"
    with pytest.raises(KeyError):
        sources.file_text("b.txt")
    assert Sources().base_dir == "."
