"""Record and replay: cassettes of a target's calls (docs/replay.md).

    from promptwire import Target, Cassette
    target = Target.from_file("promptfooconfig.yaml")
    target.use_cassette("cassettes/chat.yaml", record_mode="once")
    target.call("Hello")          # live the first time, replayed ever after

A cassette holds the core's event stream of each call (what each connection
answered and when, and the call's seed), so replay goes through exactly the
same core with no network and no clock: templates, transforms, retries,
streams and WebSocket frames included.
"""

from ._cassette import RECORD_MODES, Cassette, RecordingCall, use_cassette
from ._model import CassetteError, Episode, Step, load_file
from ._player import DEFAULT_MATCH_ON
from ._redact import Redactor
from ._wire import RequestView

__all__ = [
    "DEFAULT_MATCH_ON",
    "RECORD_MODES",
    "Cassette",
    "CassetteError",
    "Episode",
    "RecordingCall",
    "Redactor",
    "RequestView",
    "Step",
    "load_file",
    "use_cassette",
]
