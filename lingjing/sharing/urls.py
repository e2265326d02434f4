"""Mounted at ``/privacy/sharing/`` by ``lingjing/urls.py``."""

from django.urls import path

from lingjing.sharing import views

app_name = "sharing"

urlpatterns = [
    path("", views.my_log, name="log"),
    path("recipients/", views.recipients, name="recipients"),
    path("recipients/<slug:slug>/", views.recipient_detail, name="recipient"),
    path("legal/", views.legal_requests, name="legal-requests"),
    path("legal/<uuid:request_id>/", views.legal_request, name="legal-request"),
]
