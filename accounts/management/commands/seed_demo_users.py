from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from accounts.services import demo_users_ensure
from profiles.services import DEMO_EMAIL, demo_profile_link

DEMO_TRAVELLER = "demo"


class Command(BaseCommand):
    help = "Create the demo accounts (or reset them to their documented passwords)."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = demo_users_ensure()
        self.stdout.write(self.style.SUCCESS("Demo accounts ready:"))
        for account in accounts:
            self.stdout.write(f"  {account.role:<10} {account.username:<8} {account.password}")
        traveller = User.objects.get(username=DEMO_TRAVELLER)
        demo_profile_link(user=traveller)
        self.stdout.write(f"  {DEMO_TRAVELLER} is linked to the simulated profile of {DEMO_EMAIL}")
