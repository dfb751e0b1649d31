"""Rendering of the pages: templates with the CSRF token, error pages, the 500 page that never shows a trace."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from bot.digest.rendering import Renderer
from bot.logs import redact
from subscribers.web.csrf import COOKIE, Csrf
from subscribers.web.middleware import SECURITY_HEADERS

log = logging.getLogger("paperpost.web")

ERROR_TITLES = {400: "This link is not valid", 403: "This form has expired", 404: "Page not found",
                405: "Not allowed", 413: "Too much text", 429: "Too many attempts", 500: "Something went wrong"}


class Pages:
    """Renders `templates/pages/*.html` into responses; every form gets the CSRF token of its visitor."""

    def __init__(self, renderer: Renderer, csrf: Csrf, base_url: str):
        self.renderer = renderer
        self.csrf = csrf
        self.base_url = base_url

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        nonce = request.cookies.get(COOKIE)
        fresh = not nonce or len(nonce) > 100
        if fresh:
            nonce = self.csrf.new_nonce()
        defaults = {"notice": None, "errors": {}, "base_url": self.base_url}
        html = self.renderer.render(f"pages/{name}", **{**defaults, **context},
                                    csrf_token=self.csrf.token_for(nonce))  # type: ignore[arg-type]
        response = HTMLResponse(html, status_code=status)
        if fresh:
            response.set_cookie(COOKIE, nonce, **self.csrf.cookie_options())  # type: ignore[arg-type]
        return response

    def error(self, request: Request, status: int, message: str, *, title: str | None = None,
              headers: dict[str, str] | None = None) -> Response:
        """A plain page naming the problem and what to do; never a trace."""
        try:
            html = self.renderer.render("pages/error.html", title=title or ERROR_TITLES.get(status, "Error"),
                                        message=message, status=status, notice=None, errors={}, base_url=self.base_url)
        except Exception:  # noqa: BLE001 - the error page itself must not fail
            log.exception("the error page could not be rendered")
            return PlainTextResponse(message, status_code=status, headers=headers)
        return HTMLResponse(html, status_code=status, headers=headers)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """The 500 page: outside every other middleware, so it carries the security headers itself."""
        log.error("error on %s %s: %s", request.method, redact(request.url.path), redact(f"{exc!r}"[:500]))
        response = self.error(request, 500, "Something went wrong on our side. Please try again in a few minutes.")
        response.headers.update({**SECURITY_HEADERS, "cache-control": "no-store"})
        return response

    async def unreadable(self, request: Request, exc: Exception) -> Response:
        """A body the form parser refused (too many fields, a file, broken multipart): our page, not plain text."""
        return self.error(request, 400, "The form could not be read. Reload the page and send it again.",
                          title="The form could not be read")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return self.error(request, 405, "This address does not take that kind of request.")
        return self.error(request, 404, "There is no page at this address. Check the link, or start from the home page.")
