from django.urls import path

from lingjing.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("help/", views.help_page, name="help"),
    path("favicon.ico", views.favicon, name="favicon"),  # pages without our <link rel="icon"> (the console)
]
