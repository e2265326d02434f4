"""Mounted at ``/works/`` by ``lingjing/urls.py``."""

from django.urls import path

from lingjing.works import views

app_name = "works"

urlpatterns = [
    path("", views.feed_page, name="feed"),
    path("<uuid:work_id>", views.detail, name="detail"),
    path("<uuid:work_id>/files/<uuid:asset_id>", views.file, name="file"),
    path("<uuid:work_id>/publish", views.publish, name="publish"),
    path("<uuid:work_id>/unpublish", views.unpublish, name="unpublish"),
]
