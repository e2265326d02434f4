"""Mounted at the site root by ``lingjing/urls.py``: ``community/…`` (a work's buttons), ``me/interests``,
``moderation/…``."""

from django.urls import path

from lingjing.community import views

app_name = "community"

urlpatterns = [
    path("community/works/<uuid:work_id>/comment", views.post_comment, name="comment"),
    path("community/works/<uuid:work_id>/like", views.like, name="like"),
    path("community/works/<uuid:work_id>/report", views.report, name="report"),
    path("community/comments/<uuid:comment_id>/delete", views.delete_comment, name="delete-comment"),
    path("community/users/<uuid:user_id>/follow", views.follow, name="follow"),
    path("me/interests", views.interests_page, name="interests"),
    path("me/interests/delete", views.delete_interests, name="delete-interests"),
    path("me/feed-mode", views.feed_mode, name="feed-mode"),
    path("moderation/", views.queue, name="moderation"),
    path("moderation/cases/<uuid:case_id>", views.case_page, name="case"),
    path("moderation/appeals/", views.appeals, name="appeals"),
    path("moderation/appeals/<uuid:review_id>", views.resolve_appeal, name="resolve-appeal"),
    path("moderation/terms", views.terms, name="terms"),
]
