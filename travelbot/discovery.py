"""How the platform finds what apps offer it, without importing any app by name.

An app offers something by defining a well-known attribute in a well-known module:

- `STREAMS` in `<app>/streams.py`: the Kafka streams it handles (see streams/registry.py);
- `PIPELINES` in `<app>/selectors.py`: readers of the pipelines shown beside the streams on
  the stream-health page (see selectors.py);
- `ERASURE_HOOK` in `<app>/privacy.py`: what erases the personal data it keeps when a
  person is erased.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from django.apps import apps


def _app_module(app: str, module: str) -> ModuleType | None:
    name = f"{app}.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module exists but an import inside it failed
            raise
        return None


def app_offers(*, module: str, attribute: str) -> list[Any]:
    """The `attribute` of each installed app's `<app>.<module>`, in INSTALLED_APPS order;
    apps without the module or without the attribute offer nothing."""
    offers = []
    for config in apps.get_app_configs():
        found = _app_module(config.name, module)
        if found is not None and hasattr(found, attribute):
            offers.append(getattr(found, attribute))
    return offers
