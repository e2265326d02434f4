"""Mounted at ``/support/`` by ``lingjing/urls.py``."""

from django.urls import path

from lingjing.support import views

app_name = "support"

urlpatterns = [
    path("", views.my_list, name="list"),
    path("new", views.new_ticket, name="new"),
    path("confirm/<uuid:ticket_id>", views.confirm, name="confirm"),
    path("v/<str:token>", views.visitor_link, name="visitor-link"),
    path("agent/", views.agent_queue, name="agent-queue"),
    path("agent/<uuid:ticket_id>/", views.agent_ticket, name="agent-ticket"),
    path("agent/<uuid:ticket_id>/claim", views.agent_claim, name="agent-claim"),
    path("<uuid:ticket_id>/", views.ticket_page, name="ticket"),
    path("<uuid:ticket_id>/thread", views.thread_partial, name="thread"),
    path("<uuid:ticket_id>/attachments/<uuid:attachment_id>", views.attachment, name="attachment"),
]
