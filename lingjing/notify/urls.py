"""Mounted at ``/inbox/`` by ``lingjing/urls.py``."""

from django.urls import path

from lingjing.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("partial", views.inbox_partial, name="inbox-partial"),
    path("read-all", views.read_all, name="read-all"),
    path("preferences", views.preferences, name="preferences"),
    path("announcements/<int:announcement_id>/", views.announcement, name="announcement"),
    path("<uuid:notification_id>/open", views.open_notification, name="open"),
]
