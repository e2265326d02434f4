"""Mounted at the site root by ``lingjing/urls.py``: the contract's ``/search?q=``, suggestions, the history."""

from django.urls import path

from lingjing.search import views

app_name = "search"

urlpatterns = [
    path("search", views.search_page, name="results"),
    path("search/suggest", views.suggest, name="suggest"),
    path("search/history", views.history_page, name="history"),
    path("search/history/delete", views.delete_history, name="delete-history"),
]
