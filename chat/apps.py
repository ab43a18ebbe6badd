from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from chat.privacy import chat_data_erase
        from profiles.privacy import erasure_hook_register

        erasure_hook_register(chat_data_erase)
