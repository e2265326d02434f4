"""Mounted at ``/privacy/decisions/`` by ``lingjing/urls.py``."""

from django.urls import path

from lingjing.decisions import views

app_name = "decisions"

urlpatterns = [
    path("", views.my_list, name="list"),
    path("choices", views.set_choice, name="choices"),
    path("reviews/", views.review_queue, name="review-queue"),
    path("reviews/<uuid:review_id>/", views.review, name="review"),
    path("<uuid:decision_id>/", views.detail, name="detail"),
]
