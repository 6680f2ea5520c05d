"""GET /docs: a self-contained HTML reference of all 20 operations, and its text rendering."""

from __future__ import annotations

import re
from importlib import resources

import httpx

from heedful.ops.docs import reference, render_text
from heedful.spec import spec_operations

ARTICLE = re.compile(r'<article class="op" id="([^"]+)">(.*?)</article>', re.S)


async def test_docs_lists_every_operation_with_its_status(
    client: httpx.AsyncClient, implemented: set[str]
) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.lower().startswith("<!doctype html>")
    articles = dict(ARTICLE.findall(page))
    assert set(articles) == {op.operation_id for op in spec_operations()}
    assert len(articles) == 20
    for op in spec_operations():
        article = articles[op.operation_id]
        assert f"/v1{op.path}</span>" in article, op.operation_id
        assert f">{op.method}</span>" in article, op.operation_id
        status = "implemented" if op.operation_id in implemented else "not implemented yet"
        assert f'">{status}</span>' in article, op.operation_id
    assert f"{len(implemented)} of 20 operations implemented" in page


async def test_docs_shows_scopes_bodies_and_descriptions(client: httpx.AsyncClient) -> None:
    articles = dict(ARTICLE.findall((await client.get("/docs")).text))

    webhook = articles["createWebhook"]
    assert "<code>webhooks:write</code>" in webhook
    assert "<code>CreateWebhookRequestDto (application/json)</code>" in webhook
    assert "<td>201</td><td>Webhook has been created</td>" in webhook
    assert "<li><code>sms.subscribed</code></li>" in webhook
    assert "heedful also accepts <code>subscriptions:read</code>" in articles["getSubscriptions"]
    assert "none: any valid token" in articles["getMe"]
    assert "none: no bearer token" in articles["createTokenViaAuthorizationCode"]
    assert "array of CatalogUploadResponse" in articles["getUploads"]
    # lookupUpload's description lives on its path item.
    assert "Making a GET request with the uploadID" in articles["lookupUpload"]


async def test_docs_page_is_self_contained(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text

    assert "<script" not in page
    assert "<link" not in page
    assert "<img" not in page
    assert "@import" not in page
    assert "<style>" in page


def test_template_ships_inside_the_package() -> None:
    template = resources.files("heedful.ops").joinpath("templates", "docs.html")

    assert template.is_file()
    assert "{% for section in sections %}" in template.read_text("utf-8")


def test_sections_follow_the_spec_tags() -> None:
    sections = reference({"getMe"})

    assert [s.name for s in sections][:3] == ["Test Authentication", "Access Token", "Webhooks"]
    assert sum(len(s.operations) for s in sections) == 20
    assert [op.spec.operation_id for op in sections[0].operations] == ["getMe"]
    assert sections[0].operations[0].implemented
    assert not any(op.implemented for s in sections[1:] for op in s.operations)


def test_text_is_escaped() -> None:
    html = render_text('Use <script>alert("x")</script> & `<b>` here')

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; <code>&lt;b&gt;</code>" in html


def test_text_renders_paragraphs_lists_and_code() -> None:
    text = "First line\ncontinues.\n\nSecond:\n* one\n* two\n\n```python\nx = 1 < 2\n```\n"

    assert render_text(text) == (
        "<p>First line continues.</p>\n"
        "<p>Second:</p>\n"
        "<ul><li>one</li><li>two</li></ul>\n"
        "<pre><code>x = 1 &lt; 2</code></pre>"
    )


def test_only_web_and_mail_links_become_links() -> None:
    html = render_text(
        "[docs](https://example.com/a_(b)?x=1&y=2) [mail](mailto:a@b.c) "
        "[bad](javascript:alert(1)) [here](#product)"
    )

    assert '<a href="https://example.com/a_(b)?x=1&amp;y=2">docs</a>' in html
    assert '<a href="mailto:a@b.c">mail</a>' in html
    assert "javascript" not in html
    assert "bad here" in html
