"""A human-readable reference page generated from the pinned spec."""

from __future__ import annotations

import html
from collections.abc import Iterable

from starlette.routing import BaseRoute

from heedful.ops.spec import implemented_operation_ids, spec_operations


def render_docs_page(routes: Iterable[BaseRoute]) -> str:
    implemented = implemented_operation_ids(routes)
    rows = "".join(
        f"<tr><td>{html.escape(op.method)}</td><td><code>/v1{html.escape(op.path)}</code></td>"
        f"<td>{html.escape(op.operation_id)}</td><td>{html.escape(', '.join(op.scopes))}</td>"
        f"<td>{'yes' if op.operation_id in implemented else 'not yet'}</td></tr>"
        for op in spec_operations()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>heedful API</title></head>"
        "<body><h1>heedful: Attentive v1 API</h1><table><tr><th>Method</th><th>Path</th>"
        f"<th>Operation</th><th>Scopes</th><th>Implemented</th></tr>{rows}</table></body></html>"
    )
