"""The one error tree. Every failure a client can see is a `HeedfulError`.

    HeedfulError                      500  something went wrong on our side
     ├── InvalidRequest               400  body, query or path is not acceptable
     ├── Unauthorized                 401  no, unknown, revoked or expired token
     ├── Forbidden                    403  valid token without the operation's scope
     ├── NotFound                     404  no such resource for this company
     ├── MethodNotAllowed             405  route exists, method does not
     ├── RequestTimeout               408  the request body stopped coming
     ├── Conflict                     409  the resource is in a state that forbids this
     ├── PayloadTooLarge              413  body over the configured limit
     ├── UnsupportedMediaType         415  a body in a form heedful does not read
     └── RateLimited                  429  too many requests this second

Services raise these; only the HTTP layer turns them into responses, so the CLI
and the worker can call services and catch the same classes.
"""

from __future__ import annotations


def quoted(value: str, limit: int = 64) -> str:
    """`value` as a message quotes what the client sent: repr'd, and cut short when long (a
    7,000-character path segment need not come back whole in its 404)."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


class HeedfulError(Exception):
    """Base class: carries the HTTP status and a client-facing message."""

    status: int = 500
    default_message: str = "Internal Server Error"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidRequest(HeedfulError):
    """The request's body, query or path is not acceptable; the message names the field."""

    status = 400
    default_message = "Invalid parameter in request query or body"


class Unauthorized(HeedfulError):
    """No bearer token, or one that is unknown, revoked or expired."""

    status = 401
    default_message = "Unauthorized"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        # A 401 must name the scheme to authenticate with (RFC 9110 §11.6.1, RFC 6750 §3).
        challenge = {"WWW-Authenticate": 'Bearer realm="heedful"'}
        super().__init__(message, headers={**challenge, **(headers or {})})


class Forbidden(HeedfulError):
    """The token is valid but lacks what the operation needs."""

    status = 403
    default_message = "Access Denied"


class NotFound(HeedfulError):
    """No such resource (for this company)."""

    status = 404
    default_message = "The specified resource was not found"


class MethodNotAllowed(HeedfulError):
    """The path exists but not with this method."""

    status = 405
    default_message = "Method Not Allowed"


class RequestTimeout(HeedfulError):
    """The client stopped sending its request body; heedful closes the connection."""

    status = 408
    default_message = "Request Timeout"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        # The rest of the body may still come, and nobody would read it: the server closes
        # the connection after the answer, and says so (RFC 9110 §15.5.9).
        super().__init__(message, headers={"Connection": "close", **(headers or {})})


class Conflict(HeedfulError):
    """The resource's state forbids the request."""

    status = 409
    default_message = "Conflict"


class PayloadTooLarge(HeedfulError):
    """The request body is larger than the configured limit."""

    status = 413
    default_message = "Request body too large"


class UnsupportedMediaType(HeedfulError):
    """The request body is in a form heedful does not read (a content coding such as gzip)."""

    status = 415
    default_message = "Unsupported Media Type"


class RateLimited(HeedfulError):
    """The token has used up this operation's requests for the current second."""

    status = 429
    default_message = "The user has sent too many requests in a given amount of time"
