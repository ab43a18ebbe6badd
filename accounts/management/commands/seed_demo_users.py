from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from accounts.services import demo_users_ensure
from profiles.services import DEMO_EMAIL, demo_profile_link

DEMO_TRAVELLER = "demo"


class Command(BaseCommand):
    help = "Create the demo accounts (or reset them to their documented passwords)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            # Their passwords are printed here and in the README: anyone could sign in.
            raise CommandError(
                "seed_demo_users creates accounts whose passwords are published, so it runs "
                "only in development (DEBUG=1). Outside it, create accounts with "
                "`manage.py createsuperuser`."
            )
        accounts = demo_users_ensure()
        self.stdout.write(self.style.SUCCESS("Demo accounts ready:"))
        for account in accounts:
            self.stdout.write(f"  {account.role:<10} {account.username:<8} {account.password}")
        traveller = User.objects.get(username=DEMO_TRAVELLER)
        demo_profile_link(user=traveller)
        self.stdout.write(f"  {DEMO_TRAVELLER} is linked to the simulated profile of {DEMO_EMAIL}")
