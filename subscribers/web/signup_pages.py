"""The sign-up side of the pages: the form, its preview, "check your inbox", and the confirm link."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from bot.profile import interest_warnings
from subscribers import service
from subscribers.validation import MAX_INTERESTS
from subscribers.web.forms import HONEYPOT, WEEKDAY_NAMES, Checked, ProfileForm, check_form, interest_errors, time_zones
from subscribers.web.site import Site


def form_context(checked: Checked | None, form: ProfileForm, preview: service.Preview | None = None,
                 tz_chosen: bool = False) -> dict[str, object]:
    """What the profile fields need (shared by the sign-up and manage pages)."""
    return {"form": form.shown(), "errors": checked.errors if checked else {}, "preview": preview, "zones": time_zones(),
            "weekdays": WEEKDAY_NAMES, "tz_chosen": tz_chosen, "warnings": lookalike_warnings(form)}


def lookalike_warnings(form: ProfileForm) -> list[str]:
    """What in the typed interests is not what it seems (look-alike dashes, operators, mixed scripts), by line."""
    return [f"Line {n}, {warning}" for n, line in enumerate(form.interest_lines[:MAX_INTERESTS], 1)
            for warning in interest_warnings(line)]


async def run_preview(site: Site, form: ProfileForm) -> tuple[dict[str, list[str]], service.Preview | None]:
    """The preview of the typed interests, or the interest errors that prevent it."""
    lines = form.interest_lines
    if not lines:
        return {"interests": ["Type at least one interest to preview it."]}, None
    problems = await site.blocking(interest_errors, lines, service.stored_papers(site.app.db))
    if problems:
        return {"interests": problems}, None
    config = site.app.config
    found = await site.blocking(service.preview, site.app.db, tuple(lines), site.app.clock(),
                                recent_days=max(config["PAPERPOST_RECENT_DAYS"], 7),
                                trending_top=config["PAPERPOST_TRENDING_TOP"])
    return {}, found


async def home(site: Site, request: Request) -> Response:
    return site.pages.render(request, "home.html", title="Subscribe", **form_context(None, ProfileForm()))


async def subscribe(site: Site, request: Request) -> Response:
    """Preview, or sign up: the same "check your inbox" page for new, pending and known addresses."""
    form = await site.read_form(request)
    if not site.csrf_ok(request, form):
        return site.expired_form(request)
    ip = site.client_ip(request)
    if not await site.allow(f"post:{ip}", site.limits.posts_per_ip):
        return site.too_many(request, site.limits.posts_per_ip)
    typed = ProfileForm.from_form(form)
    if form.get("action") == "preview":
        errors, found = await run_preview(site, typed)
        context = form_context(Checked(typed, None, errors), typed, found, tz_chosen=True)
        return site.pages.render(request, "home.html", title="Subscribe", **context)
    if form.get(HONEYPOT):
        return site.pages.render(request, "inbox.html", title="Check your inbox", email=typed.shown().email.strip())
    checked = await site.blocking(check_form, typed, None, service.stored_papers(site.app.db))
    if checked.data is None:
        return site.pages.render(request, "home.html", 400, title="Subscribe: please check the form",
                                 **form_context(checked, typed, tz_chosen=True))
    if not await site.allow(f"signup:{ip}", site.limits.signups_per_ip):
        return site.too_many(request, site.limits.signups_per_ip)
    # Up to here the work is the same for every address; the sign-up (which differs) runs after the answer.
    page = site.pages.render(request, "inbox.html", title="Check your inbox", email=checked.data.email)
    page.background = BackgroundTask(site.sign_up_later, checked.data)
    return page


async def confirm_page(site: Site, request: Request) -> Response:
    """GET shows a button only: mail scanners open links, and must not confirm anyone."""
    person = await site.person(request, "confirm")
    if isinstance(person, Response):
        return person
    if person.status == "unsubscribed":
        return site.pages.error(request, 404, "This subscription was cancelled. Sign up again from the home page.",
                                title="Link not found")
    return site.pages.render(request, "confirm.html", title="Confirm your subscription", person=person,
                             done=person.status != "pending", manage_url=site.link("manage", person))


async def confirm_post(site: Site, request: Request) -> Response:
    person = await site.person(request, "confirm")
    if isinstance(person, Response):
        return person
    form = await site.read_form(request)
    if not site.csrf_ok(request, form):
        return site.expired_form(request)
    confirmed = await site.blocking(service.confirm, site.app.db, person.id, site.app.clock())
    if confirmed is None:
        return site.pages.error(request, 404, "This subscription was cancelled. Sign up again from the home page.",
                                title="Link not found")
    return site.pages.render(request, "confirm.html", title="You are subscribed", person=confirmed, done=True,
                             manage_url=site.link("manage", confirmed))
