"""Mounted at ``/privacy/`` by ``lingjing/urls.py``, before the consent app's pages (which own ``/privacy/`` itself,
the policy, cookies and consents): ``my-data`` and everything under ``requests``."""

from django.urls import path

from lingjing.privacy.views import member, staff, webform

app_name = "privacy"

urlpatterns = [
    path("my-data", member.my_data, name="my-data"),
    path("requests", member.request_list, name="requests"),
    path("requests/new", member.request_new, name="request-new"),
    path("requests/metrics", member.metrics, name="metrics"),
    path("requests/closing", member.closing, name="closing"),
    path("requests/verify", webform.verify, name="verify"),
    path("requests/verify/new", webform.verified_new, name="verified-new"),
    path("requests/relative", webform.relative, name="relative"),
    path("requests/guardian/<uuid:consent_id>", webform.guardian_new, name="guardian-new"),
    path("requests/staff/", staff.queue, name="staff"),
    path("requests/staff/proxies/", staff.proxies, name="staff-proxies"),
    path("requests/staff/proxies/<uuid:proxy_id>/", staff.proxy_detail, name="staff-proxy"),
    path("requests/staff/proxies/<uuid:proxy_id>/files/<int:index>", staff.proxy_file, name="staff-proxy-file"),
    path("requests/staff/propagations/", staff.propagations, name="staff-propagations"),
    path("requests/staff/endpoints/", staff.endpoints, name="staff-endpoints"),
    path("requests/staff/<uuid:request_id>/", staff.request_detail, name="staff-request"),
    path("requests/<uuid:request_id>", member.request_detail, name="request"),
    path("requests/<uuid:request_id>/download", member.download, name="download"),
]
