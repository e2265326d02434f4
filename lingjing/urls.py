"""The site's URL map. Apps add their pages by including ``lingjing.<app>.urls`` here, above the core catch-all
routes; their JSON endpoints go through ``register_routers()`` in ``lingjing/api.py`` instead."""

from django.contrib import admin
from django.urls import include, path

from lingjing.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("console/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("lingjing.accounts.urls")),
    path("studio/", include("lingjing.studio.urls")),
    path("privacy/sharing/", include("lingjing.sharing.urls")),
    path("privacy/decisions/", include("lingjing.decisions.urls")),
    path("children/", include("lingjing.children.urls")),
    path("support/", include("lingjing.support.urls")),
    path("inbox/", include("lingjing.notify.urls")),
    path("works/", include("lingjing.works.urls")),
    path("", include("lingjing.search.urls")),  # /search?q= (the contract), /search/history
    path("", include("lingjing.community.urls")),  # community/…, me/interests, moderation/…
    path("", include("lingjing.secops.urls")),  # /accounts/security/history, /secops/…, /security/incidents/…
    path("privacy/", include("lingjing.privacy.urls")),  # my-data, requests: before the consent pages
    path("", include("lingjing.consent.urls")),
    path("", include("lingjing.core.urls")),
]

handler400 = "lingjing.core.views.bad_request"
handler403 = "lingjing.core.views.permission_denied"
handler404 = "lingjing.core.views.page_not_found"
handler500 = "lingjing.core.views.server_error"
