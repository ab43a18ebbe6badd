from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo accounts (or reset them to their documented passwords)."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = demo_users_ensure()
        self.stdout.write(self.style.SUCCESS("Demo accounts ready:"))
        for account in accounts:
            self.stdout.write(f"  {account.role:<10} {account.username:<8} {account.password}")
