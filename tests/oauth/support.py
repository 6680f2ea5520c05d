"""A browser that reads and submits the consent page's forms, and token-exchange helpers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from heedful.oauth import service
from heedful.runtime import Runtime

REDIRECT_URI = "https://app.example/callback"
APP_SCOPES = ["subscriptions:write", "events:write", "ecommerce:write", "webhooks:write"]
TOKEN_URL = "/v1/authorization-codes/tokens"
_counter = itertools.count(1)


@dataclass(frozen=True)
class PublicApp:
    name: str
    client_id: str
    client_secret: str
    owner_company_id: int

    def authorize_url(
        self,
        scope: str = "ecommerce:write events:write",
        state: str | None = "xyz-state",
        redirect_uri: str = REDIRECT_URI,
        prompt: str | None = None,
    ) -> str:
        query = {"client_id": self.client_id, "redirect_uri": redirect_uri, "scope": scope}
        query |= {"state": state} if state else {}
        query |= {"prompt": prompt} if prompt else {}
        return "/oauth/authorize?" + urlencode(query)

    def token_form(self, code: str, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


def make_public_app(
    runtime: Runtime, scopes: list[str] | None = None, redirect_uris: list[str] | None = None
) -> PublicApp:
    """An app made by its own developer company, installable on others."""
    with runtime.db.transaction() as session:
        owner = service.create_company(session, runtime.clock, f"Maker {next(_counter)}").company
        made = service.create_application(
            session,
            runtime.clock,
            owner,
            f"Pillow Api {next(_counter)}",
            scopes or APP_SCOPES,
            redirect_uris=redirect_uris or [REDIRECT_URI],
        )
        return PublicApp(
            made.application.name, made.application.client_id, made.client_secret, owner.id
        )


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden, text, checked boxes
    checkboxes: list[str] = field(default_factory=list)  # `name=value` of every checkbox
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms:
            form, kind = self.forms[-1], a.get("type", "text")
            if kind == "checkbox":
                form.checkboxes.append(f"{a['name']}={a['value']}")
                if "checked" in a:
                    form.fields.append((a["name"], a["value"]))
            elif kind == "submit":
                form.buttons.append((a.get("name", ""), a.get("value", "")))
            else:
                form.fields.append((a.get("name", ""), a.get("value", "")))
        elif tag == "button" and self.forms:
            self.forms[-1].buttons.append((a.get("name", ""), a.get("value", "")))


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class Browser:
    """Follows the consent pages like a browser: keeps cookies, submits forms as they are."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.page: httpx.Response | None = None

    async def open(self, url: str) -> httpx.Response:
        self.page = await self.http.get(url)
        return self.page

    def form(self) -> Form:
        assert self.page is not None
        found = forms_of(self.page.text)
        assert len(found) == 1, self.page.text
        return found[0]

    async def submit(
        self,
        button: tuple[str, str] | None = None,
        *,
        fill: dict[str, str] | None = None,
        uncheck: tuple[str, ...] = (),
    ) -> httpx.Response:
        """Submit the page's form with `button`; returns the answer (redirects not followed)."""
        form = self.form()
        if button is not None:
            assert button in form.buttons, (button, form.buttons)
        fields = [(n, v) for n, v in form.fields if not (n == "grant" and v in uncheck)]
        fields = [(n, (fill or {}).get(n, v)) for n, v in fields]
        fields += [button] if button else []
        self.page = await self.http.post(form.action, data=dict_list(fields))
        return self.page

    async def follow(self) -> httpx.Response:
        """Follow a redirect that stays on heedful."""
        assert self.page is not None and self.page.status_code == 303, self.page
        self.page = await self.http.get(self.page.headers["location"])
        return self.page


def dict_list(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def callback_params(response: httpx.Response) -> dict[str, str]:
    """The query the browser was sent to the app's redirect URI with."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI.split("?")[0]), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def install(browser: Browser, app: PublicApp, **authorize: str) -> str:
    """Open the consent page (dev company signed in), approve; returns the code."""
    page = await browser.open(app.authorize_url(**authorize))
    assert page.status_code == 200, page.text
    return callback_params(await browser.submit(("decision", "approve")))["code"]


async def exchange(http: httpx.AsyncClient, app: PublicApp, code: str) -> httpx.Response:
    return await http.post(TOKEN_URL, data=app.token_form(code))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
