from __future__ import annotations

from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("knowledge/", views.document_list, name="list"),
    path("knowledge/new", views.document_edit, name="new"),
    path("knowledge/preview", views.preview, name="preview"),
    path("knowledge/<slug:doc_id>/", views.document_edit, name="edit"),
    path("knowledge/<slug:doc_id>/status", views.liveness, name="liveness"),
    path("knowledge/<slug:doc_id>/history", views.history, name="history"),
    path("knowledge/<slug:doc_id>/restore/<int:version>", views.restore, name="restore"),
    path("knowledge/<slug:doc_id>/delete", views.delete, name="delete"),
    path("knowledge/<slug:doc_id>/approve", views.approve, name="approve"),
    path("knowledge/<slug:doc_id>/unapprove", views.withdraw_approval, name="unapprove"),
    path("help/<slug:doc_id>", views.help_article, name="article"),
    path("api/knowledge/search", views.search_api, name="search_api"),
]
