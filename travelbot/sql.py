"""Raw SQL whose rows are read by column name, not by position.

The statement runs on Django's cursor, so it joins the transaction and is counted and logged
like the ORM's queries; psycopg's row factory on the cursor underneath makes each row what
the caller names: `class_row(SomeDataclass)` for rows of several columns, `scalar_row` for a
single one, `dict_row` where a class would be silly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from django.db import connection
from psycopg.rows import RowFactory, scalar_row

Row = TypeVar("Row")
Params = Sequence[Any] | Mapping[str, Any] | None


def fetch_all(sql: str, params: Params = None, *, row: RowFactory[Row]) -> list[Row]:
    with connection.cursor() as cursor:
        cursor.cursor.row_factory = row
        cursor.execute(sql, params)
        return cast("list[Row]", cursor.fetchall())


def fetch_value(sql: str, params: Params = None) -> Any:
    """The one value of a statement that returns exactly one row of one column."""
    (value,) = fetch_all(sql, params, row=scalar_row)
    return value
