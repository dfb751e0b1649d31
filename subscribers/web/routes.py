"""The subscription pages: a Starlette app over the App's database, templates and tokens.

Routes (DESIGN.md "Web"): GET / ; POST /subscribe ; GET|POST /confirm/{token} ;
GET|POST /manage/{token} ; GET|POST /unsubscribe/{token} ; GET /digest/{token} ;
GET|POST /vote/{token} ; GET /healthz ; /static/*. No page needs JavaScript.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from bot.app import App
from bot.config import TEMPLATES_DIR, require_secret_key
from subscribers.web import account_pages as account, signup_pages as signup, vote_pages as vote
from subscribers.web.csrf import Csrf
from subscribers.web.middleware import BodyLimit, SecurityHeaders
from subscribers.web.templating import Pages
from subscribers.ratelimit import RateLimiter
from subscribers.web.site import Limits, Site
from subscribers.web.telegram_webhook import telegram_webhook_routes, webhook_wanted

STATIC_DIR = TEMPLATES_DIR / "pages" / "static"

Handler = Callable[[Site, Request], Awaitable[Response]]


def create_app(app: App, *, limits: Limits | None = None, limiter: RateLimiter | None = None,
               wake_sender: Callable[[], None] | None = None) -> Starlette:
    """The pages for `app`; `wake_sender` (optional) is called when a confirmation mail was queued."""
    limits = limits or Limits()
    csrf = Csrf(require_secret_key(app.config), secure=app.config.base_url.startswith("https://"))
    pages = Pages(app.renderer, csrf, app.config.base_url)
    site = Site(app, pages, csrf, limits, limiter or RateLimiter(), wake_sender)

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await handler(site, request)
        return Route(path, endpoint, methods=methods, name=handler.__name__)

    async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = pages.error(Request(scope), 413, f"The form sent more than {limits.max_body // 1024} KB. "
                               "Shorten the text and try again.")
        await response(scope, receive, send)

    routes = [
        route("/", signup.home, ["GET"]),
        route("/subscribe", signup.subscribe, ["POST"]),
        route("/confirm/{token}", signup.confirm_page, ["GET"]),
        route("/confirm/{token}", signup.confirm_post, ["POST"]),
        route("/manage/{token}", account.manage_page, ["GET"]),
        route("/manage/{token}", account.manage_post, ["POST"]),
        route("/unsubscribe/{token}", account.unsubscribe_page, ["GET"]),
        route("/unsubscribe/{token}", account.unsubscribe_post, ["POST"]),
        route("/digest/{token}", account.digest_page, ["GET"]),
        route("/vote/{token}", vote.vote_page, ["GET"]),
        route("/vote/{token}", vote.vote_post, ["POST"]),
        route("/healthz", account.healthz, ["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    if webhook_wanted(app.config):
        routes += telegram_webhook_routes(app)
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, max_bytes=limits.max_body, too_large=too_large)],
        exception_handlers={400: pages.unreadable, 404: pages.not_found, 405: pages.not_found, 500: pages.server_error,
                            Exception: pages.server_error},
    )


__all__ = ["create_app", "Limits"]
