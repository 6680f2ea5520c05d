"""A human-readable reference page generated from the pinned spec.

`reference()` turns the spec into per-tag sections of operations (with what heedful implements);
`render_docs_page()` renders them through `templates/docs.html` for `GET /docs`, and
`heedful.ops.coverage` renders the same sections as Markdown.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.routing import BaseRoute

from heedful.oauth.scopes import OPERATION_SCOPES
from heedful.ops.spec import implemented_operation_ids
from heedful.spec import SpecOperation, load_spec, spec_operations

TEMPLATE = "docs.html"


@dataclass(frozen=True)
class ResponseDoc:
    status: str
    description: str
    body: str | None


@dataclass(frozen=True)
class OperationDoc:
    spec: SpecOperation
    description: str
    requires_token: bool
    # Scopes heedful accepts beyond the spec's (a token needs any one scope of either list).
    also_accepted: tuple[str, ...]
    implemented: bool
    request_body: str | None
    responses: tuple[ResponseDoc, ...]


@dataclass(frozen=True)
class TagDoc:
    name: str
    description: str
    operations: tuple[OperationDoc, ...]

    @property
    def anchor(self) -> str:
        return "tag-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def reference(implemented: set[str], spec: dict[str, Any] | None = None) -> list[TagDoc]:
    """The spec's operations grouped by tag, tags in the order the spec declares them."""
    spec = spec or load_spec()
    grouped: dict[str, list[OperationDoc]] = {tag["name"]: [] for tag in spec.get("tags", [])}
    for op in spec_operations(spec):
        grouped.setdefault(op.tag, []).append(_operation_doc(spec, op, implemented))
    descriptions = {tag["name"]: tag.get("description", "") for tag in spec.get("tags", [])}
    return [
        TagDoc(name, descriptions.get(name, ""), tuple(ops)) for name, ops in grouped.items() if ops
    ]


def render_docs_page(routes: Iterable[BaseRoute]) -> str:
    sections = reference(implemented_operation_ids(routes))
    operations = [op for section in sections for op in section.operations]
    return _template().render(
        title=load_spec()["info"].get("title", "Attentive API"),
        sections=sections,
        total=len(operations),
        implemented=sum(op.implemented for op in operations),
    )


@functools.cache
def _template() -> jinja2.Template:
    # Read through importlib.resources so the template is found in any installed layout.
    source = resources.files("heedful.ops").joinpath("templates", TEMPLATE).read_text("utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["prose"] = render_text
    return env.from_string(source)


def _operation_doc(spec: dict[str, Any], op: SpecOperation, implemented: set[str]) -> OperationDoc:
    item = spec["paths"][op.path]
    raw = item[op.method.lower()]
    return OperationDoc(
        spec=op,
        # Some operations carry their description on the path item instead.
        description=op.description or item.get("description", ""),
        requires_token=item.get("x-requires-auth", True) is not False,
        also_accepted=tuple(
            s for s in OPERATION_SCOPES.get(op.operation_id, ()) if s not in op.scopes
        ),
        implemented=op.operation_id in implemented,
        request_body=_request_body(spec, raw.get("requestBody")),
        responses=tuple(
            _response(spec, status, response) for status, response in raw["responses"].items()
        ),
    )


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = spec
    for part in ref[2:].split("/"):
        target = target[part]
    resolved: dict[str, Any] = target
    return resolved


def _request_body(spec: dict[str, Any], body: dict[str, Any] | None) -> str | None:
    if body is None:
        return None
    body = _resolve(spec, body)
    described = _content(body.get("content", {}))
    if described is None:
        return None
    return described + ("" if body.get("required") else ", optional")


def _response(spec: dict[str, Any], status: str, response: dict[str, Any]) -> ResponseDoc:
    response = _resolve(spec, response)
    return ResponseDoc(
        status=status,
        description=response.get("description", "").strip(),
        body=_content(response.get("content", {})),
    )


def _content(content: dict[str, Any]) -> str | None:
    """`Name (media/type)` for each media type of a request or response body."""
    parts = [f"{_schema_name(media.get('schema', {}))} ({kind})" for kind, media in content.items()]
    return "; ".join(parts) or None


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    if schema.get("type") == "object" and schema.get("properties"):
        return "object with " + ", ".join(schema["properties"])
    return str(schema.get("type", "any value"))


# --- The spec's descriptions: Markdown-ish text, escaped, then given just enough structure.

_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:([-*])|\d+\.)\s+(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|")
# Applied to already-escaped text: `code`, [text](target) (one level of parentheses in the
# target) and **bold**.
_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\[(?P<text>[^\]]+)\]\((?P<target>(?:[^()\s]|\([^()\s]*\))+)\)"
    r"|\*\*(?P<bold>[^*]+)\*\*"
)
_LINK_SCHEMES = ("https://", "http://", "mailto:")


def render_text(text: str) -> Markup:
    """Escape `text` and render its paragraphs, lists, headings and code blocks as HTML."""
    return Markup("\n").join(_render_block(kind, lines) for kind, lines in _blocks(text))


def _blocks(text: str) -> Iterator[tuple[str, list[str]]]:
    """(kind, lines) runs: `code` (fenced), `table`, `heading`, `list` and `para`."""
    kind = ""
    lines: list[str] = []
    # The spec writes some characters as entities (`Array&lt;string&gt;`); escaping re-encodes them.
    for line in html.unescape(text).splitlines():
        if kind == "code":
            if _FENCE.match(line):
                yield kind, lines
                kind, lines = "", []
            else:
                lines.append(line)
            continue
        line_kind = _line_kind(line, kind)
        if line_kind != kind or line_kind == "heading":
            if kind and lines:
                yield kind, lines
            kind, lines = line_kind, []
        if line_kind not in ("", "code"):
            lines.append(line)
    if kind and lines:
        yield kind, lines


def _line_kind(line: str, current: str) -> str:
    if not line.strip():
        return ""
    if _FENCE.match(line):
        return "code"
    if _HEADING.match(line):
        return "heading"
    if _TABLE_ROW.match(line):
        return "table"
    if _starts_item(line):
        return "list"
    # An indented line right after a list item continues it.
    if current == "list" and line[:1].isspace():
        return "list"
    return "para"


def _starts_item(line: str) -> bool:
    return _LIST_ITEM.match(line) is not None


def _render_block(kind: str, lines: list[str]) -> Markup:
    if kind in ("code", "table"):
        return Markup("<pre><code>{}</code></pre>").format("\n".join(lines))
    if kind == "heading":
        match = _HEADING.match(lines[0])
        assert match is not None
        level = min(len(match.group(1)) + 3, 6)
        return Markup(f"<h{level}>{{}}</h{level}>").format(_inline(match.group(2)))
    if kind == "list":
        return _render_list(lines)
    return Markup("<p>{}</p>").format(_inline(" ".join(line.strip() for line in lines)))


def _render_list(lines: list[str]) -> Markup:
    items: list[str] = []
    for line in lines:
        match = _LIST_ITEM.match(line)
        if match is not None:
            items.append(match.group(2).strip())
        else:
            items[-1] += " " + line.strip()
    first = _LIST_ITEM.match(lines[0])
    assert first is not None
    tag = "ul" if first.group(1) else "ol"
    # The spec nests lists only by indenting them.
    nested = Markup(' class="nested"') if lines[0][:1].isspace() else Markup("")
    body = Markup("").join(Markup("<li>{}</li>").format(_inline(item)) for item in items)
    return Markup(f"<{tag}{{}}>{{}}</{tag}>").format(nested, body)


def _inline(text: str) -> Markup:
    def replace(match: re.Match[str]) -> str:
        if match["code"] is not None:
            return f"<code>{match['code']}</code>"
        if match["bold"] is not None:
            return f"<strong>{match['bold']}</strong>"
        if match["target"].startswith(_LINK_SCHEMES):
            return f'<a href="{match["target"]}">{match["text"]}</a>'
        # Fragment links point into the vendor's own pages; keep just the words.
        return str(match["text"])

    return Markup(_INLINE.sub(replace, str(escape(text))))
