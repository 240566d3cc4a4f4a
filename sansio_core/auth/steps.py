"""Which pre-steps a provider entry needs, compiled once per target.

The one place that knows every kind of step, so the step modules themselves
depend only on the ``prestep`` base, never on each other.
"""

from __future__ import annotations

from typing import Any

from ..actions import TlsParams
from ..config.http import FileAuth, OAuthAuth
from ..config.tls import tls_params
from ..js.engine import JsEngine
from ..sources import Sources
from .file import FileAuthStep
from .oauth import OAuthStep
from .prestep import PreStep
from .session_endpoint import SessionEndpointStep
from .signature import SignatureStep


def compile_pre_steps(entry: Any, sources: Sources, engine: Any, *, js: JsEngine | None = None) -> list[PreStep]:
    """The pre-steps an HTTP provider entry needs, in promptfoo's order:
    OAuth token or file auth token, signature, session endpoint.

    ``js`` is the target's JavaScript engine (so a session ``responseParser``
    shares the target's context and thread rules); one is made when absent.
    """
    config = entry.http
    tls = tls_params(config, sources)
    steps = compile_auth_steps(config.auth, sources, engine, tls=tls, js=js)
    # Signatures (spec 15) come between the token and the session.
    if config.signatureAuth is not None:
        steps.append(SignatureStep.compile(config.signatureAuth, sources, engine))
    if config.session is not None:
        steps.append(SessionEndpointStep.compile(config.session, engine, sources, tls=tls,
                                                 max_retries=config.maxRetries, js=js))
    return steps


def compile_auth_steps(auth: Any, sources: Sources, engine: Any, *, tls: TlsParams | None,
                       js: JsEngine | None = None) -> list[PreStep]:
    """The token step of an ``auth`` block (OAuth or file auth; none for the static
    kinds), for any target: the WebSocket handshake uses it too. ``tls`` is the
    target's ``tls`` block, which the OAuth token request also uses."""
    if isinstance(auth, OAuthAuth):
        return [OAuthStep.compile(auth, engine, tls=tls)]
    if isinstance(auth, FileAuth):
        return [FileAuthStep.compile(auth, sources, js=js)]
    return []


__all__ = ["compile_auth_steps", "compile_pre_steps"]
