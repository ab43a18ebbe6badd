from __future__ import annotations

from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        from feedback.privacy import feedback_comments_erase
        from profiles.privacy import erasure_hook_register

        erasure_hook_register(feedback_comments_erase)
