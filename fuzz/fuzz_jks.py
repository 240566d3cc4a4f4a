"""Fuzz the JKS keystore reader: whatever the bytes, only ConfigError escapes.

Input layout: byte 0 picks the password, byte 1 the alias, the rest is the
keystore. The seed corpus is the keytool-made test keystores with both
bytes 0 (password ``changeit``, first key entry), so the fuzzer starts from
files that open and mutates them into ones that almost do.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from sansio_core.auth.jks import read_keystore
    from sansio_core.errors import ConfigError

PASSWORDS = ("changeit", "", "wrong", "p\u00e4ss\U0001f511")
ALIASES = (None, "client", "second", "peer", "")


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    password = PASSWORDS[data[0] % len(PASSWORDS)]
    alias = ALIASES[data[1] % len(ALIASES)]
    try:
        store = read_keystore(data[2:], password, where="fuzz")
        entry = store.key_entry(alias)
    except ConfigError:
        return
    if not entry.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----"):
        raise AssertionError("a key entry that opened is not a PKCS#8 PEM key")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
