"""Sections of the home page that other apps provide (the works feed, announcements, …).

An app registers a section in its ``AppConfig.ready()``::

    from lingjing.core.home import HomeSection, register_home_section

    register_home_section(HomeSection("feed", "works/home_feed.html", feed_context, order=10))

The home view renders each section's template with ``section`` (the HomeSection) and ``data`` (what its
``context`` callable returned for the request). With no section registered the page shows a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class HomeSection:
    key: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]]
    order: int = 50


_SECTIONS: dict[str, HomeSection] = {}


def register_home_section(section: HomeSection) -> None:
    """Add (or replace, by key) a section; calling it again from a reloaded app is harmless."""
    _SECTIONS[section.key] = section


def unregister_home_section(key: str) -> None:
    _SECTIONS.pop(key, None)


def home_sections(request: HttpRequest) -> list[dict[str, Any]]:
    """Each registered section in order, with the data its callable gives for this request."""
    ordered = sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))
    return [{"section": section, "data": section.context(request)} for section in ordered]
