"""Websocket routes of every app, collected in one place."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from chat.consumers import ChatConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/chat/", ChatConsumer.as_asgi()),
]
