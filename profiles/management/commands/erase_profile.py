"""Erase a person (right to be forgotten): `manage.py erase_profile --email x@y --yes`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from profiles.identifiers import KINDS, identifier_from_query
from profiles.privacy import profile_erase
from profiles.selectors import profile_find


class Command(BaseCommand):
    help = (
        "Erase the profile holding an identifier, or a profile by id: its records, "
        "identifiers, the accounts ever linked to it and what they said; its identifiers "
        "stay suppressed (as keyed hashes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profile-id")
        for kind in KINDS:
            parser.add_argument(f"--{kind.replace('_', '-')}", dest=kind)
        parser.add_argument("--yes", action="store_true", help="erase without asking")

    def handle(self, *args: Any, **options: Any) -> None:
        profile_id = options["profile_id"] or self._profile_by_identifier(options)
        if not options["yes"]:
            answer = input(f"Erase profile {profile_id} and suppress its identifiers? [y/N] ")
            if answer.strip().lower() != "y":
                raise CommandError("nothing erased")
        erasure = profile_erase(profile_id=profile_id)
        if erasure is None:
            raise CommandError(f"no profile {profile_id}")
        self.stdout.write(
            f"erased {len(erasure.records)} record(s) of {profile_id}; "
            f"{len(erasure.identifiers)} identifier(s) suppressed (erasure {erasure.id})"
        )

    @staticmethod
    def _profile_by_identifier(options: dict[str, Any]) -> str:
        given = [(kind, options[kind]) for kind in KINDS if options.get(kind)]
        if len(given) != 1:
            raise CommandError("give --profile-id or exactly one identifier (--email ...)")
        kind, raw = given[0]
        identifier = identifier_from_query(kind, raw)
        profile_id = None if identifier is None else profile_find(identifier=identifier)
        if profile_id is None:
            raise CommandError(f"no profile with {kind} {raw!r}")
        return profile_id
