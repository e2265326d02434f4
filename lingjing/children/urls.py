"""Mounted at ``/children/`` by ``lingjing/urls.py``."""

from django.urls import path

from lingjing.children import views

app_name = "children"

urlpatterns = [
    path("staff/", views.staff_home, name="staff"),
    path("staff/requests/<uuid:request_id>/", views.staff_request, name="request"),
    path("staff/child/<uuid:child_id>/", views.staff_record, name="record"),
    path("guardian/", views.guardian_home, name="guardian"),
    path("guardian/<uuid:consent_id>/", views.guardian_child, name="guardian-child"),
]
