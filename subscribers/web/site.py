"""What every page handler shares: the App, limits, CSRF and token checks, running blocking work off the loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from itsdangerous import SignatureExpired
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.app import App
from bot.models import Subscriber, SubscriberInput
from bot.tokens import BadToken, Purpose
from subscribers import service
from subscribers.web.clients import client_address, limit_key, networks
from subscribers.web.csrf import COOKIE, FIELD, Csrf
from subscribers.web.templating import Pages
from subscribers.ratelimit import RateLimiter, Rule, mailbox_key

T = TypeVar("T")
log = logging.getLogger("paperpost.web")


@dataclass(frozen=True)
class Limits:
    """Request limits of the pages (counted in the database, shared by every web process: subscribers/ratelimit.py)."""

    posts_per_ip: Rule = Rule(30, 60.0)  # any form POST (previews too)
    signups_per_ip: Rule = Rule(10, 3600.0)
    # Confirmation mails into one mailbox (plus-tags and dots folded), besides one per address per cool-down.
    # Mails are counted, not attempts, and the window is short: strangers cannot lock the owner out for long,
    # and the owner's earlier mail (its link works for 7 days) and their manage link keep working meanwhile.
    mails_per_mailbox: Rule = Rule(2, 900.0)
    max_body: int = 256 * 1024  # bytes; a full profile is ~15 KB
    max_fields: int = 40


class Site:
    """Holds the adapters the handlers use; handlers live in subscribers.routes."""

    def __init__(self, app: App, pages: Pages, csrf: Csrf, limits: Limits, limiter: RateLimiter,
                 wake_sender: Callable[[], None] | None):
        self.app = app
        self.proxies = networks(app.config["PAPERPOST_TRUSTED_PROXIES"])
        self.pages = pages
        self.csrf = csrf
        self.limits = limits
        self.limiter = limiter.bound_to(app.db, app.clock)
        self.wake_sender = wake_sender

    @staticmethod
    async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run database work in the thread pool so one slow query never stalls other visitors."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def read_form(self, request: Request) -> FormData:
        return await request.form(max_files=0, max_fields=self.limits.max_fields)

    def csrf_ok(self, request: Request, form: FormData) -> bool:
        token = form.get(FIELD)
        return self.csrf.valid(request.cookies.get(COOKIE), token if isinstance(token, str) else None)

    def expired_form(self, request: Request) -> Response:
        return self.pages.error(request, 403, "This form was open too long or cookies are blocked. "
                                "Go back, reload the page and send it again.")

    def client_ip(self, request: Request) -> str:
        """The rate-limit key of the visitor: their address (behind trusted proxies only), IPv6 by /64."""
        peer = request.client.host if request.client else None
        return limit_key(client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies))

    async def allow(self, key: str, rule: Rule) -> bool:
        """Count one attempt against `rule` (a database write: off the event loop)."""
        return await self.blocking(self.limiter.allow, key, rule)

    def sign_up_later(self, data: SubscriberInput) -> None:
        """The sign-up itself, run after the answer is sent (a BackgroundTask), so that new and known
        addresses get the same work before it and the same answer: nothing in the reply tells them apart."""
        mailbox = mailbox_key(data.email or "")

        def may_mail(session: Session) -> bool:
            return self.limiter.allow_in(session, mailbox, self.limits.mails_per_mailbox)

        try:
            result = service.sign_up(self.app.db, data, self.app.clock(), may_mail)
        except Exception:  # noqa: BLE001 - the visitor has their answer; the failure is logged, not raised
            log.exception("sign-up failed after the answer was sent")
            return
        if result.mail_queued and self.wake_sender is not None:
            self.wake_sender()

    def add_email(self, subscriber_id: int, email: str) -> str:
        """A chat-only person's new address: off until confirmed, its mail counted like a sign-up's."""
        mailbox = mailbox_key(email)

        def may_mail(session: Session) -> bool:
            return self.limiter.allow_in(session, mailbox, self.limits.mails_per_mailbox)

        outcome = service.add_email(self.app.db, subscriber_id, email, self.app.clock(), may_mail)
        if outcome == "sent" and self.wake_sender is not None:
            self.wake_sender()
        return outcome

    def too_many(self, request: Request, rule: Rule) -> Response:
        minutes = max(1, round(rule.window / 60))
        return self.pages.error(request, 429, f"Too many attempts from here. Please wait {minutes} minute"
                                f"{'s' if minutes != 1 else ''} and try again.",
                                headers={"Retry-After": str(int(rule.window))})

    async def resolve(self, request: Request, purpose: Purpose) -> Subscriber | BadToken:
        """The subscriber the link's token is for, or why it is no one's (the BadToken, returned)."""
        try:
            return await self.blocking(service.resolve, self.app.db, self.app.tokens, purpose,
                                       request.path_params["token"])
        except BadToken as exc:
            return exc

    def bad_link(self, request: Request, exc: BadToken) -> Response:
        """The plain 400/404 page for a link that is tampered, expired, or no one's any more."""
        if isinstance(exc, service.PersonGone):
            return self.pages.error(request, 404, "This link belongs to a subscription that does not exist any more. "
                                    "You can sign up again from the home page.", title="Link not found")
        if isinstance(exc, service.UnknownLink):
            return self.pages.error(request, 404, "This link was replaced: links stop working when their data is "
                                    "deleted. Use the link in your latest message, or sign up again from the "
                                    "home page.", title="Link not found")
        if isinstance(exc.__cause__, SignatureExpired):
            return self.pages.error(request, 400, "Confirmation links work for 7 days. Sign up again from the "
                                    "home page to get a new one.", title="This link has expired")
        return self.pages.error(request, 400, "Links from our mails must be opened whole; if it was cut, "
                                "copy all of it into the address bar.")

    async def person(self, request: Request, purpose: Purpose) -> Subscriber | Response:
        """The subscriber the link's token is for, or the plain 400/404 page."""
        found = await self.resolve(request, purpose)
        return self.bad_link(request, found) if isinstance(found, BadToken) else found

    async def posted(self, request: Request, purpose: Purpose) -> tuple[Subscriber, FormData] | Response:
        """The link's subscriber and the form of a POST whose CSRF token is good, within the per-IP POST limit;
        else the page to answer with (400/404 link, 403 expired form, 429)."""
        person = await self.person(request, purpose)
        if isinstance(person, Response):
            return person
        form = await self.read_form(request)
        if not self.csrf_ok(request, form):
            return self.expired_form(request)
        if not await self.allow(f"post:{self.client_ip(request)}", self.limits.posts_per_ip):
            return self.too_many(request, self.limits.posts_per_ip)
        return person, form

    def link(self, purpose: Purpose, person: Subscriber) -> str:
        """A site-relative link for `person` (the pages link to themselves, mails use the base URL)."""
        return f"/{purpose}/{self.app.tokens.make(purpose, person)}"
