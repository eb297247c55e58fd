"""weir's built-in error responses, one prebuilt bytes object per status (built at import).

Each closes the connection, as HAProxy's do: after an error the stream's framing can no
longer be trusted.
"""

from __future__ import annotations

_TEXTS = {
    200: ("OK", "Service ready."),
    400: ("Bad Request", "Your browser sent a request that weir could not understand."),
    401: ("Unauthorized", "You need a valid user and password to access this content."),
    403: ("Forbidden", "Access to this resource is not allowed."),
    404: ("Not Found", "The requested resource could not be found."),
    405: ("Method Not Allowed", "This method is not allowed for the requested resource."),
    408: ("Request Time-out", "The request was not received completely in time."),
    410: ("Gone", "The requested resource is no longer available."),
    413: ("Payload Too Large", "The request is larger than weir accepts."),
    414: ("URI Too Long", "The request target is longer than weir accepts."),
    425: ("Too Early", "The request was sent too early and may be replayed."),
    429: ("Too Many Requests", "You have sent too many requests in a given amount of time."),
    431: ("Request Header Fields Too Large", "The request head is larger than weir accepts."),
    500: ("Internal Server Error", "An internal error occurred."),
    501: ("Not Implemented", "The request uses a feature weir does not implement."),
    502: ("Bad Gateway", "The server returned an invalid or incomplete response."),
    503: ("Service Unavailable", "No server is available to handle this request."),
    504: ("Gateway Time-out", "The server did not respond in time."),
    505: ("HTTP Version Not Supported", "The request's HTTP version is not supported."),
}


def reason(status: int) -> str:
    return _TEXTS.get(status, ("Error", ""))[0]


def _build(status: int) -> bytes:
    title, text = _TEXTS.get(status, ("Error", "An error occurred."))
    body = (f"<html><body><h1>{status} {title}</h1>\n{text}\n</body></html>\n").encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\n"
        f"content-length: {len(body)}\r\n"
        "cache-control: no-cache\r\n"
        "content-type: text/html\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    return head + body


ERROR_PAGES: dict[int, bytes] = {code: _build(code) for code in _TEXTS}


def error_page(status: int) -> bytes:
    page = ERROR_PAGES.get(status)
    return page if page is not None else _build(status)
