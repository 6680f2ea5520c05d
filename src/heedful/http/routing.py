"""Routes for paths that carry several vendor operations (GET and POST /webhooks, ...)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

COLLECTION_METHODS = ["GET", "HEAD", "POST"]
ITEM_METHODS = ["PUT", "DELETE"]


class SharedPathRoute(Route):
    """One method of a path that has several operations: a 405 lists every method of the path
    in `Allow` (a plain Route would list only its own, which RFC 9110 calls wrong)."""

    def __init__(self, path: str, endpoint: Any, *, method: str, allow: list[str]) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.allow = allow

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            raise HTTPException(status_code=405, headers={"Allow": ", ".join(self.allow)})
        await super().handle(scope, receive, send)
