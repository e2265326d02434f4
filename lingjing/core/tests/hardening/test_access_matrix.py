"""The access-control matrix: every object endpoint and page, as the owner, another member, a visitor and each
staff role, against ONE declared table of expected answers.

Reading a row: ``Row(name, method, url, owner, other, anon, staff=..., roles={...})``. ``url`` is a template
filled from the world's ids (``{draft}``, ``{ticket}``, …, see ``world.build_world``); a row whose id is missing
(app not in the tree) or whose path does not resolve is skipped, so the table can list what is being built.
Expected answers are HTTP statuses, or ``LOGIN`` (302 to a sign-in page), or ``SKIP`` (not exercised for that
persona, e.g. a destructive POST by the owner). ``staff`` is the default for every staff role; ``roles``
overrides it per role. Two invariants hold whatever the table says (``test_zero_leaks``): another member and a
visitor never get a 2xx on a private row, and a 2xx answer to them never contains the owner's private marker.
To add an endpoint: add a row. To add an object: create it in ``world.py`` and name its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import Resolver404, resolve

from lingjing.core.roles import ROLE_NAMES
from lingjing.core.tests.hardening.world import World, browser, build_world, token_for

pytestmark = pytest.mark.django_db

LOGIN = "login"
SKIP = "skip"
Expect = int | str
PERSONAS = ("owner", "other", "anon", *ROLE_NAMES)


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    url: str
    owner: Expect
    other: Expect
    anon: Expect
    staff: Expect | None = None  # default for every staff role; None = same as ``other``
    roles: dict[str, Expect] = field(default_factory=dict)
    public: bool = False  # everyone may read it (a published work)
    body: dict[str, Any] | None = None  # a valid body, so that a refusal comes from access and not validation

    @property
    def api(self) -> bool:
        return self.url.startswith("/api/")

    def expected(self, persona: str) -> Expect:
        if persona in ("owner", "other", "anon"):
            return getattr(self, persona)  # type: ignore[no-any-return]
        if persona in self.roles:
            return self.roles[persona]
        return self.other if self.staff is None else self.staff


def page(name: str, url: str, *, owner: Expect = 200, method: str = "get", **kw: Any) -> Row:
    kw.setdefault("other", 404)
    kw.setdefault("anon", LOGIN)
    return Row(name, method, url, owner, **kw)


def api(name: str, url: str, *, owner: Expect = 200, method: str = "get", **kw: Any) -> Row:
    kw.setdefault("other", 404)
    kw.setdefault("anon", 401)
    return Row(name, method, "/api/v1" + url, owner, **kw)


def console(name: str, url: str, *, allowed: tuple[str, ...], method: str = "get") -> Row:
    """A console object: staff in ``allowed`` see it, other staff are refused, members go to the sign-in."""
    return Row(name, method, "/console" + url, owner=LOGIN, other=LOGIN, anon=LOGIN, staff=403,
               roles=dict.fromkeys(allowed, 200))


UNASSIGNED = {"support_agent": 403}

MATRIX: tuple[Row, ...] = (
    # --- works and the studio (a draft is its author's alone; staff use the console) ---
    page("studio work", "/studio/{draft}/"),
    page("studio settings", "/studio/{draft}/settings", method="post", owner=SKIP),
    page("studio storyboard", "/studio/{draft}/storyboard/"),
    page("studio characters", "/studio/{draft}/characters/"),
    page("studio results", "/studio/{draft}/results/"),
    page("studio job", "/studio/{draft}/jobs/{job}/"),
    page("studio job progress", "/studio/{draft}/jobs/{job}/progress"),
    page("studio output file", "/studio/files/{asset}"),
    page("studio shot edit", "/studio/{draft}/shots/{shot}/edit", method="post", owner=SKIP),
    page("studio shot delete", "/studio/{draft}/shots/{shot}/delete", method="post", owner=SKIP),
    page("studio job cancel", "/studio/{draft}/jobs/{job}/cancel", method="post", owner=SKIP),
    page("studio start job", "/studio/{draft}/jobs/start", method="post", owner=SKIP),
    page("studio delete work", "/studio/{draft}/delete", method="post", owner=SKIP),
    api("studio job", "/studio/jobs/{job}"),
    api("studio outputs", "/studio/works/{draft}/outputs"),
    api("studio output file", "/studio/outputs/{asset}/file"),
    api("studio render", "/studio/works/{draft}/render", method="post", owner=SKIP),
    api("studio job cancel", "/studio/jobs/{job}/cancel", method="post", owner=SKIP),
    api("studio job retry", "/studio/jobs/{job}/retry", method="post", owner=SKIP),
    api("draft work", "/works/{draft}", anon=404),
    api("draft work patch", "/works/{draft}", method="patch", owner=SKIP),
    api("draft work delete", "/works/{draft}", method="delete", owner=SKIP),
    api("draft work publish", "/works/{draft}/publish", method="post", owner=SKIP),
    api("published work", "/works/{published}", other=200, anon=200, public=True),
    api("published work patch", "/works/{published}", method="patch", owner=SKIP, other=404),
    api("published work delete", "/works/{published}", method="delete", owner=SKIP, other=404),
    api("published work unpublish", "/works/{published}/unpublish", method="post", owner=SKIP, other=404),
    # --- customer service ---
    # An agent reads a ticket only once it is assigned to them (403 before); other staff are strangers (404).
    page("ticket", "/support/{ticket}/", anon=404, roles=UNASSIGNED),
    page("ticket thread", "/support/{ticket}/thread", anon=404, roles=UNASSIGNED),
    # The requester opening the agent view of her own ticket is sent to her own view of it (302).
    page("agent ticket", "/support/agent/{ticket}/", owner=302, roles=UNASSIGNED),
    page("agent claim", "/support/agent/{ticket}/claim", method="post", owner=403, other=403, staff=403,
         roles={"support_agent": SKIP}),
    api("ticket", "/support/tickets/{ticket}", roles=UNASSIGNED),
    api("ticket reply", "/support/tickets/{ticket}/messages", method="post", owner=SKIP, body={"body": "你好"},
        roles=UNASSIGNED),
    api("agent ticket", "/support/agent/tickets/{ticket}", owner=403, roles=UNASSIGNED),
    api("agent resolve", "/support/agent/tickets/{ticket}/resolve", method="post", owner=403, roles=UNASSIGNED,
        body={"resolution": "resolved", "note": "已处理"}),
    # --- rights requests and their downloads ---
    api("rights request", "/privacy/requests/{request}"),
    api("rights request explanation", "/privacy/requests/{request}/explanation"),
    api("rights request cancel", "/privacy/requests/{request}/cancel", method="post", owner=SKIP),
    api("rights request retry", "/privacy/requests/{request}/retry", method="post", owner=SKIP),
    api("copy download (with its token)", "{copy_download}"),
    # --- consents and receipts ---
    page("consent receipt", "/privacy/consents/receipts/{receipt}.json", anon=404),
    api("consent receipt", "/privacy/consents/receipts/{receipt}"),
    # --- sharing logs and decisions ---
    api("sharing record", "/sharing/records/{sharing}"),
    page("decision", "/privacy/decisions/{decision}/"),
    api("decision", "/decisions/{decision}"),
    api("decision review", "/decisions/{decision}/review", method="post", owner=SKIP, body={"reason": "不同意"}),
    # --- the staff console: admin objects ---
    console("account", "/accounts/user/{alice}/change/", allowed=("support_agent", "privacy_officer")),
    console("rights request", "/privacy/rightsrequest/{request}/change/", allowed=("privacy_officer", "auditor")),
    console("sharing record", "/sharing/sharingrecord/{sharing}/change/",
            allowed=("privacy_officer", "auditor")),
    console("audit log", "/security/auditentry/", allowed=("security_officer", "auditor")),
)

# Lists a member may open: 200 for everyone signed in, but never with someone else's objects in them.
OWN_LISTS: tuple[tuple[str, str], ...] = (
    ("/api/v1/privacy/requests", "{request}"),
    ("/api/v1/privacy/consents/receipts", "{receipt}"),
    ("/api/v1/sharing/records", "{sharing}"),
    ("/api/v1/decisions", "{decision}"),
    ("/api/v1/support/tickets", "{ticket}"),
    ("/api/v1/notifications", "{ticket}"),
    ("/support/", "{ticket}"),
    ("/privacy/decisions/", "{decision}"),
    ("/privacy/sharing/", "第一章"),
    ("/studio/", "私密草稿"),
)


def _values(world: World) -> dict[str, str]:
    values = {key: str(value) for key, value in world.ids.items() if value is not None}
    values["alice"] = str(world.alice.pk)
    if "copy" in world.ids:
        from lingjing.privacy.models import RightsRequest
        from lingjing.privacy.requests import downloads

        url = downloads.api_url(RightsRequest.objects.get(pk=world.ids["copy"]))
        if url:
            values["copy_download"] = url[url.index("/api/v1") + len("/api/v1"):]
    return values


def _fill(template: str, values: dict[str, str]) -> str | None:
    try:
        return template.format(**values)
    except KeyError:
        return None


def _routable(url: str) -> bool:
    try:
        match = resolve(url.split("?")[0])
    except Resolver404:
        return False
    return match.url_name != "api-root" and "<" not in url


class Caller:
    def __init__(self, world: World, persona: str) -> None:
        user = {"owner": world.alice, "other": world.bob, "anon": None}.get(persona, world.staff.get(persona))
        self.client = browser(user)
        self.api_client = browser(None)
        self.headers = {"Authorization": f"Bearer {token_for(user)}"} if user is not None else {}

    def call(self, row: Row, url: str) -> Any:
        if row.api:
            data = (row.body or {}) if row.method != "get" else None
            return getattr(self.api_client, row.method)(url, data=data, content_type="application/json",
                                                        headers=self.headers)
        return getattr(self.client, row.method)(url)


def _outcome(response: Any) -> Expect:
    if response.status_code == 302 and "login" in response.get("Location", ""):
        return LOGIN
    return int(response.status_code)


@pytest.fixture
def world(settings: Any) -> World:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "hardening-matrix"}}
    settings.LINGJING_RATE_LIMIT_ENABLED = False
    return build_world()


# Reads first, then the refused writes: a write that the table lets through is SKIP, so nothing a persona does
# changes what the next one sees.
ORDERED = sorted(MATRIX, key=lambda row: row.method != "get")


def test_every_endpoint_answers_each_persona_as_declared_and_nothing_leaks(world: World) -> None:
    """One world, every persona, every row. Besides the table, two invariants: nobody but the owner gets a 2xx on
    a private member-facing row, and 2xx answers to them never contain the owner's private marker."""
    values = _values(world)
    mismatches: list[str] = []
    leaks: list[str] = []
    exercised = 0
    for persona in PERSONAS:
        caller = Caller(world, persona)
        for row in ORDERED:
            expected = row.expected(persona)
            url = _fill(row.url, values)
            if expected == SKIP or url is None or not _routable(url):
                continue
            response = caller.call(row, url)
            got = _outcome(response)
            exercised += 1
            if got != expected:
                mismatches.append(f"{persona} · {row.name}: {row.method.upper()} {url} expected {expected}, got {got}")
            private = not row.public and not url.startswith("/console/")
            if persona != "owner" and private and isinstance(got, int) and 200 <= got < 300:
                leaks.append(f"{persona} got {got} on {row.method.upper()} {url} ({row.name})")
    assert not leaks, "\n".join(leaks)
    assert not mismatches, "\n".join(mismatches)
    # A table that silently lost its objects would pass: most rows must have run for every persona.
    assert exercised >= len(PERSONAS) * 30, exercised


def test_lists_show_the_owner_her_objects_and_nobody_else(world: World) -> None:
    values = _values(world)
    seen_by_owner = 0
    for persona in ("owner", "other", *ROLE_NAMES):
        caller = Caller(world, persona)
        for template, marker_template in OWN_LISTS:
            url, marker = _fill(template, values), _fill(marker_template, values)
            if url is None or marker is None or not _routable(url):
                continue
            response = caller.call(Row("list", "get", url, 200, 200, LOGIN), url)
            text = response.content.decode()
            if persona == "owner":
                assert response.status_code == 200, url
                seen_by_owner += marker in text
            else:
                assert response.status_code in (200, 403), (persona, url, response.status_code)
                assert marker not in text, f"{persona} sees alice's {marker} in {url}"
    # The check above could pass vacuously if the markers never appeared: for the owner they do.
    assert seen_by_owner >= 6, seen_by_owner
