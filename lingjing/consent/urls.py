from django.urls import path

from lingjing.consent import views

urlpatterns = [
    path("privacy/", views.privacy_center, name="privacy-center"),
    path("privacy/policy", views.policy, name="privacy-policy"),
    path("privacy/policy/diff", views.policy_diff_view, name="privacy-policy-diff"),
    path("privacy/policy/accept", views.policy_accept, name="privacy-policy-accept"),
    path("privacy/policy/<int:number>", views.policy_version, name="privacy-policy-version"),
    path("privacy/notices/<int:notice_id>/read", views.notice_read, name="privacy-notice-read"),
    path("privacy/cookies", views.cookie_settings, name="privacy-cookies"),
    path("privacy/consents", views.consents, name="privacy-consents"),
    path("privacy/consents/receipts/<uuid:receipt_id>.json", views.receipt_download, name="privacy-receipt"),
    path("privacy/staff/policy", views.staff_policy, name="privacy-staff-policy"),
    path("privacy/staff/analytics", views.staff_analytics, name="privacy-staff-analytics"),
    path(".well-known/gpc.json", views.gpc_json, name="gpc-json"),
    path("t/o/<str:token>.gif", views.track_open, name="track-open"),
    path("t/c/<str:token>", views.track_click, name="track-click"),
    path("t/u/<str:token>", views.unsubscribe, name="unsubscribe"),
]
