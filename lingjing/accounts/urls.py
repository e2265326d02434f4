from django.urls import path

from lingjing.accounts import views

app_name = "accounts"

urlpatterns = [
    path("register/", views.register_page, name="register"),
    path("login/", views.login_page, name="login"),
    path("login/totp/", views.login_totp_page, name="login_totp"),
    path("logout/", views.logout_page, name="logout"),
    path("profile/", views.profile_page, name="profile"),
    path("security/", views.security_page, name="security"),
    path("security/totp.svg", views.totp_qr, name="totp_qr"),
    path("guardian/", views.guardian_page, name="guardian"),
    path("avatar/<str:name>", views.avatar_file, name="avatar"),
]
