from django.urls import path

from lingjing.secops import views

app_name = "secops"

urlpatterns = [
    path("accounts/security/history", views.sign_in_history, name="history"),
    path("security/incidents/<str:ref>", views.announcement, name="announcement"),
    path("secops/", views.overview, name="overview"),
    path("secops/gate/", views.gate, name="gate"),
    path("secops/incidents/new", views.incident_new, name="incident_new"),
    path("secops/incidents/<uuid:incident_id>/", views.incident_detail, name="incident"),
    path("secops/people/", views.people, name="people"),
    path("secops/people/<uuid:user_id>/", views.person, name="person"),
]
