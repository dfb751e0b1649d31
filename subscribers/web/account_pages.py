"""The subscriber's own pages, reached by signed links: manage, unsubscribe (also RFC 8058 one-click), digest."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.jobs.health import health_report, public_health
from bot.models import Subscriber
from bot.channels.email.digest_mail import load_digest, preview_digest
from bot.store import outbox
from bot.store.subscribers import EMAIL_UNCONFIRMED
from bot.tokens import BadToken
from subscribers import service
from subscribers.web.forms import ProfileForm, check_form
from subscribers.web.signup_pages import form_context, run_preview
from subscribers.web.site import Site
from subscribers.web.vote_pages import record_vote, voted_papers
from subscribers.validation import InvalidSubscriber, checked_email

NOTICES = {"saved": "Your changes are saved.", "paused": "Paused: no digests until you resume.",
           "resumed": "Resumed: your next digest comes at your usual time.",
           "telegram": "Your Telegram settings are saved.", "unvoted": "Your vote is removed.",
           "email": "We sent a link to that address: open it to get your digests there too.",
           "email-wait": "A link went to that address a few minutes ago: open it, or try again in a quarter of an hour."}
TELEGRAM_MODES = ("instant", "daily")
HOURS = tuple(range(24))
ONE_CLICK = ("List-Unsubscribe", "One-Click")


async def _manage(site: Site, request: Request, person: Subscriber, status: int = 200, *,
                  form: ProfileForm | None = None, **extra: object) -> Response:
    context = form_context(None, form or ProfileForm.from_subscriber(person), tz_chosen=True)
    context.update(extra)
    context.setdefault("votes_notice", None)
    liked, unwanted = await site.blocking(voted_papers, site.app.db, person.id)
    return site.pages.render(request, "manage.html", status, title="Your subscription", person=person,
                             liked=liked, unwanted=unwanted,
                             telegram_code=context.pop("telegram_code", None),
                             unsubscribe_url=site.link("unsubscribe", person), digest_url=site.link("digest", person),
                             email_unconfirmed=EMAIL_UNCONFIRMED, **context)


async def manage_page(site: Site, request: Request) -> Response:
    person = await site.person(request, "manage")
    if isinstance(person, Response):
        return person
    done = request.query_params.get("done", "")
    if done == "unvoted":  # said beside the list the button was in (the page opens there)
        return await _manage(site, request, person, votes_notice=NOTICES[done])
    return await _manage(site, request, person, notice=NOTICES.get(done))


async def manage_post(site: Site, request: Request) -> Response:
    """Save, preview, pause, resume, a Telegram code, or delete everything: one form, one action each."""
    posted = await site.posted(request, "manage")
    if isinstance(posted, Response):
        return posted
    person, form = posted
    db, now, action = site.app.db, site.app.clock(), form.get("action")
    back = RedirectResponse(request.url.path, status_code=303)
    if action in ("save", "preview"):
        typed = ProfileForm.from_form(form)
        if action == "preview":
            errors, found = await run_preview(site, typed)
            return await _manage(site, request, person, form=typed, errors=errors, preview=found)
        checked = await site.blocking(check_form, typed, person, service.stored_papers(site.app.db))
        if checked.data is None:
            return await _manage(site, request, person, 400, form=typed, errors=checked.errors)
        await site.blocking(service.update_profile, db, person.id, checked.data, now)
        back.headers["location"] += "?done=saved"
        return back
    if action in ("pause", "resume"):
        await site.blocking(service.pause if action == "pause" else service.resume, db, person.id, now)
        back.headers["location"] += f"?done={action}d"
        return back
    if action == "telegram":
        code = await site.blocking(service.new_telegram_code, db, person.id, now)
        return await _manage(site, request, person, telegram_code=code)
    if action == "telegram_settings" and person.telegram_chat_id:
        settings = telegram_settings(form)
        if isinstance(settings, dict):
            return await _manage(site, request, person, 400, errors=settings)
        await site.blocking(service.telegram_settings, db, person.id, *settings)
        back.headers["location"] += "?done=telegram"
        return back
    if action == "add_email" and (person.email is None or service.awaits_email_confirmation(person)):
        try:
            address = checked_email(str(form.get("new_email") or ""))
        except InvalidSubscriber as exc:
            return await _manage(site, request, person, 400, errors={"new_email": [exc.errors["email"]]})
        outcome = await site.blocking(site.add_email, person.id, address)
        if outcome == "taken":
            return await _manage(site, request, person, 400, errors={"new_email": [
                "That address has its own subscription: open its manage page, ask for a Telegram code there and "
                "send it to the bot from this chat."]})
        back.headers["location"] += "?done=" + ("email" if outcome == "sent" else "email-wait")
        return back
    if action == "unvote":
        await site.blocking(record_vote, db, person.id, str(form.get("paper") or ""), "clear", now)
        back.headers["location"] += "?done=unvoted#votes"
        return back
    if action == "delete":
        if form.get("confirm_delete") != "yes":
            return await _manage(site, request, person, 400, errors={"confirm_delete": [
                "Tick the box to confirm that everything should be deleted."]})
        await site.blocking(service.delete_all, db, person.id)
        return site.pages.render(request, "left.html", title="Your data is deleted", deleted=True)
    return await _manage(site, request, person, 400, errors={"action": ["Choose one of the buttons."]})


def telegram_settings(form: Mapping[str, object]) -> tuple[str, tuple[int, int] | None] | dict[str, list[str]]:
    """(mode, quiet hours or None) from the Telegram form, or the errors (closed sets only)."""
    mode, start, end = (str(form.get(name) or "") for name in ("telegram_mode", "quiet_start", "quiet_end"))
    errors: dict[str, list[str]] = {}
    if mode not in TELEGRAM_MODES:
        errors["telegram_mode"] = ["Choose alerts as they come, or one message a day."]
    hours = {str(h): h for h in HOURS}
    if (start == "") != (end == "") or (start and (start not in hours or end not in hours or start == end)):
        errors["quiet_start"] = ["Choose two different hours for quiet hours, or none for both."]
    if errors:
        return errors
    return mode, (hours[start], hours[end]) if start else None


async def unsubscribe_page(site: Site, request: Request) -> Response:
    """GET shows one button: link scanners must not unsubscribe anyone."""
    person = await site.person(request, "unsubscribe")
    if isinstance(person, Response):
        return person
    return site.pages.render(request, "unsubscribe.html", title="Unsubscribe", person=person,
                             manage_url=site.link("manage", person))


async def unsubscribe_post(site: Site, request: Request) -> Response:
    """Unsubscribe (idempotent, 200 every time); RFC 8058 one-click POSTs come without cookies or CSRF token.

    The signed token in the URL is the authority here, as it is for the one-click
    POST a mailbox provider sends, so the page's button posts the same body.
    """
    person = await site.resolve(request, "unsubscribe")
    if isinstance(person, service.PersonGone):  # the subscriber is gone: that is unsubscribed
        return site.pages.render(request, "left.html", title="You are unsubscribed", deleted=True)
    if isinstance(person, BadToken):
        return site.bad_link(request, person)
    form = await site.read_form(request)
    if form.get(ONE_CLICK[0]) != ONE_CLICK[1] and not site.csrf_ok(request, form):
        return site.expired_form(request)
    await site.blocking(service.unsubscribe, site.app.db, person.id, site.app.clock())
    return site.pages.render(request, "left.html", title="You are unsubscribed", deleted=False,
                             manage_url=site.link("manage", person))


async def digest_page(site: Site, request: Request) -> Response:
    """The latest digest in the browser; before the first one, what the next one holds so far."""
    person = await site.person(request, "digest")
    if isinstance(person, Response):
        return person

    def latest() -> tuple[object, bool]:
        ctx = site.app.mail_context
        with site.app.db.session() as session:
            item = outbox.latest_sent_digest(session, person.id)
            digest = load_digest(session, item, ctx) if item is not None else None
            if digest is not None:
                return digest, False
            return preview_digest(session, person, "preview", ctx), True

    digest, upcoming = await site.blocking(latest)
    return site.pages.render(request, "digest.html", title="Your digest", digest=digest, upcoming=upcoming,
                             manage_url=site.link("manage", person), vote_base=site.link("vote", person))


async def healthz(site: Site, request: Request) -> Response:
    """Public: healthy or not, nothing more; the details (sources, jobs, workers' hosts and pids) only when
    PAPERPOST_HEALTH_DETAILS=1, else on the command line (`paperpost stats`, `paperpost sources list`)."""
    healthy, details = await site.blocking(health_report, site.app.db, site.app.clock())
    body = public_health(healthy, details, details=site.app.config["PAPERPOST_HEALTH_DETAILS"])
    return JSONResponse(body, status_code=200 if healthy else 503)
