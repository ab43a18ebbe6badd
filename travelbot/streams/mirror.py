"""Tables mirrored from CDC topics: what every mirrored row carries besides its data.

Every row has the `version` (the applied `source.lsn`), `as_of` (its `source.ts_ms`) and the
`source_system` whose lsns the version belongs to. A delete keeps the row as a marker with
`deleted=True` and its data cleared, so an older event arriving late cannot bring it back;
readers go through the default manager, which never returns deleted rows.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class LiveManager(models.Manager[M]):
    def get_queryset(self) -> models.QuerySet[M]:
        return super().get_queryset().filter(deleted=False)


class Versioned(models.Model):
    version = models.BigIntegerField()
    as_of = models.DateTimeField()
    deleted = models.BooleanField(default=False)
    applied_at = models.DateTimeField()
    # The source system that created the key; its lsns are the only ones `version` compares to.
    source_system = models.CharField(max_length=64, default="")

    objects = LiveManager()
    with_deleted = models.Manager()  # noqa: DJ012 - a manager, which ruff takes for a field

    class Meta:
        abstract = True
        base_manager_name = "with_deleted"

    def __str__(self) -> str:
        state = " (deleted)" if self.deleted else ""
        return f"{type(self).__name__} {self.pk} v{self.version}{state}"
