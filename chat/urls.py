from __future__ import annotations

from django.urls import path

from chat import views

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("api/chat/messages", views.messages_api, name="chat_messages_api"),
    path(
        "api/chat/conversations/<str:conversation_id>",
        views.conversation_api,
        name="chat_conversation_api",
    ),
    path("api/chat/turns/<str:turn_id>/rating", views.rating_api, name="chat_rating_api"),
    path("staff/turns/", views.staff_turns, name="staff_turns"),
    path("staff/turns/<uuid:turn_id>/", views.staff_turn, name="staff_turn"),
]
