"""What the application finally resolves, with the same code the library runs.

The Scenario's ``app`` section becomes a :class:`srcip.clientip.TrustConfig`, and the view
the app receives (TCP peer, PROXY header, headers) goes through
:func:`srcip.clientip.resolve` — so the prediction and the library cannot disagree
(DESIGN.md "Layers"). A PROXY header reaching an app that does not expect one, or an app
that expects one receiving plain HTTP, breaks the request before any resolution
(reference clientip.md §5): both are reported as refusals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from srcip.clientip.resolve import Resolution, resolve
from srcip.clientip.trust import TrustConfig
from srcip.model.scenario import AppSpec, ProxyProtocolVersion
from srcip.model.view import View

__all__ = ["AppResult", "app_resolve", "app_trust"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppResult:
    """The app's answer: a resolution, or why the request never got that far."""

    resolution: Resolution | None
    refused: str | None = None


def app_trust(app: AppSpec) -> TrustConfig:
    """The app's trust settings as a validated TrustConfig (raises TrustConfigError)."""
    return _trust(app)


@lru_cache(maxsize=64)
def _trust(app: AppSpec) -> TrustConfig:
    # A PROXY listener without a list reads the header from anyone, as servers do. The
    # model describes apps as configured, trust-everything included (verdicts flag it).
    listens = app.proxy_protocol is not ProxyProtocolVersion.OFF
    pp_trusted = app.proxy_protocol_trusted or (("0.0.0.0/0", "::/0") if listens else ())
    return TrustConfig(
        trusted_proxies=app.trusted_proxies,
        source=app.source,
        trusted_hops=app.trusted_hops,
        proxy_protocol_trusted=pp_trusted,
        allow_trust_all=True,
    )


def app_resolve(app: AppSpec, view: View) -> AppResult:
    """Resolve the client the app sees from ``view`` with the app's trust settings."""
    expects = app.proxy_protocol is not ProxyProtocolVersion.OFF
    if view.proxy is not None and not expects:
        return AppResult(
            resolution=None,
            refused="a PROXY protocol header reached an app that does not expect one "
            "(the request line is garbage: 400 Bad Request)",
        )
    if view.proxy is None and expects:
        return AppResult(
            resolution=None,
            refused="the app expects a PROXY protocol header and got plain HTTP "
            "(broken header: the connection is closed)",
        )
    if view.proxy is not None and view.proxy.version != (
        1 if app.proxy_protocol is ProxyProtocolVersion.V1 else 2
    ):
        return AppResult(
            resolution=None,
            refused=f"the app expects PROXY protocol {app.proxy_protocol} and got "
            f"v{view.proxy.version} (broken header: the connection is closed)",
        )
    peer = str(view.peer)
    return AppResult(resolution=resolve(peer, view.headers, _trust(app), proxy=view.proxy))
