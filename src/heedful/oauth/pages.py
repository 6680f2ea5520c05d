"""The consent pages under /oauth: authorize (consent), sign-in with a company admin key.

`GET /oauth/authorize?client_id&redirect_uri&scope&state` shows the app, the scopes in words and
the company it would be installed on. Approve and Deny post back here with a CSRF token; the
browser is then sent to the app's redirect URI with `code` and `state` (or `error`). Problems
with the request itself are an error page, never a redirect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from heedful.errors import HeedfulError, NotFound
from heedful.http.operation import read_body
from heedful.http.routing import COLLECTION_METHODS, SharedPathRoute
from heedful.oauth import forms, service, sessions
from heedful.oauth.service.install import find_approver
from heedful.oauth.sessions import ConsentSession
from heedful.runtime import Runtime

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("heedful.oauth", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# No scripts, no framing (clickjacking), no caching, no Referer carrying the query onwards.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
EXPIRED_FORM = "This form has expired or did not come from this page. Go back and reload it."


async def authorize_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    params = parse_qs(request.url.query, keep_blank_values=True)
    session = _session(request, runtime) or sessions.new_session(runtime.clock.now())
    force_login = params.get("prompt") == ["login"]
    return await _consent_or_login(
        request, runtime, session, params, signed_in=None if force_login else session.company_id,
        development=_development(runtime) and not force_login,
    )  # fmt: skip


async def decide(request: Request) -> Response:
    """Approve or Deny, posted from the consent page."""
    runtime: Runtime = request.app.state.runtime
    form = forms.parse_form(await read_body(request, runtime.settings))
    session = _session(request, runtime)
    if session is None or not session.csrf_matches(_first(form, "csrf_token")):
        return _error_page(request, 403, "Request refused", EXPIRED_FORM)
    decision = _first(form, "decision")
    try:
        checked = await runtime.run(service.validate_authorize, form)
    except HeedfulError as exc:
        return _error_page(request, exc.status, "Cannot install this app", exc.message)
    if decision == "deny":
        return _to_client(checked.redirect_uri, error="access_denied", state=checked.state)
    if decision != "approve":
        return _error_page(request, 400, "Request refused", "Choose Approve or Deny")
    development = _development(runtime)
    approver = await runtime.run(find_approver, session.company_id, development=development)
    granted = form.get("grant", [])
    if approver is None or not granted:
        message = None if approver is None else "Grant at least one scope, or deny the request."
        return await _consent_or_login(
            request, runtime, session, form, signed_in=session.company_id,
            development=development, message=message, status=400,
        )  # fmt: skip
    try:
        approved, code = await runtime.run(
            service.approve, runtime.clock, form, approver.company_id, granted
        )
    except HeedfulError as exc:
        return _error_page(request, exc.status, "Cannot install this app", exc.message)
    return _to_client(approved.redirect_uri, code=code, state=approved.state)


async def login(request: Request) -> Response:
    """Sign in with a company admin key, then back to the consent page."""
    runtime: Runtime = request.app.state.runtime
    form = forms.parse_form(await read_body(request, runtime.settings))
    session = _session(request, runtime)
    if session is None or not session.csrf_matches(_first(form, "csrf_token")):
        return _error_page(request, 403, "Request refused", EXPIRED_FORM)
    try:
        checked = await runtime.run(service.validate_authorize, form)
    except HeedfulError as exc:
        return _error_page(request, exc.status, "Cannot install this app", exc.message)
    try:
        approver = await runtime.run(service.sign_in, _first(form, "admin_key") or "")
    except NotFound as exc:
        return await _consent_or_login(
            request, runtime, session, form, signed_in=None, development=False,
            message=exc.message, status=401,
        )  # fmt: skip
    response = RedirectResponse(
        "/oauth/authorize?" + urlencode(checked.query()), 303, headers=PAGE_HEADERS
    )
    _keep(request, response, runtime, session.signed_in(approver.company_id, runtime.clock.now()))
    return response


async def _consent_or_login(
    request: Request,
    runtime: Runtime,
    session: ConsentSession,
    params: Mapping[str, Sequence[str]],
    *,
    signed_in: int | None,
    development: bool,
    message: str | None = None,
    status: int = 200,
) -> Response:
    try:
        view = await runtime.run(service.consent_view, params, signed_in, development=development)
    except HeedfulError as exc:
        return _error_page(request, exc.status, "Cannot install this app", exc.message)
    context = {
        "view": view,
        "csrf_token": session.csrf,
        "message": message,
        "can_switch": view.approver is not None,
        "switch_url": "/oauth/authorize?" + urlencode({**view.request.query(), "prompt": "login"}),
    }
    if view.approver is None:
        title, template = f"sign in to install {view.request.application_name}", "login.html"
        status = 401 if message else status
    else:
        title, template = f"install {view.request.application_name}", "consent.html"
    response = _render(template, status, title=title, **context)
    _keep(request, response, runtime, session)
    return response


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return _render("error.html", status, title=title, message=message)


def _render(template: str, status: int, **context: Any) -> Response:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status, headers=PAGE_HEADERS)


def _to_client(redirect_uri: str, **params: str | None) -> Response:
    """A redirect to the app's (validated) redirect URI, its own query kept."""
    parts = urlsplit(redirect_uri)
    added = urlencode({name: value for name, value in params.items() if value is not None})
    # Appended to the query as registered, not re-encoded (RFC 6749 §3.1.2: it MUST be
    # retained): decoding and encoding it again turned `?flag` into `?flag=`, `;` into `%3B`
    # and a non-UTF-8 escape into U+FFFD.
    query = f"{parts.query}&{added}" if parts.query else added
    return RedirectResponse(urlunsplit(parts._replace(query=query)), 303, PAGE_HEADERS)


def _session(request: Request, runtime: Runtime) -> ConsentSession | None:
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    return sessions.decode(cookie, _secret(runtime), runtime.clock.now())


def _keep(request: Request, response: Response, runtime: Runtime, session: ConsentSession) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        sessions.encode(session, _secret(runtime)),
        max_age=int(sessions.LIFETIME.total_seconds()),
        path=sessions.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        # Behind a proxy that ends TLS heedful sees http; the public base URL says how
        # browsers reach it.
        secure=request.url.scheme == "https"
        or runtime.settings.public_base_url.startswith("https://"),
    )


def _secret(runtime: Runtime) -> str:
    return runtime.settings.secret_key.get_secret_value()


def _development(runtime: Runtime) -> bool:
    return runtime.settings.env == "development"


def _first(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


routes = [
    SharedPathRoute("/authorize", authorize_page, method="GET", allow=COLLECTION_METHODS),
    SharedPathRoute("/authorize", decide, method="POST", allow=COLLECTION_METHODS),
    Route("/login", login, methods=["POST"]),
]
