"""Request bodies that become events, decoded with the types of the event they become.

A rating becomes a feedback.events record and a question a chat.turns one; decoding the body
with those very field types (from travelbot.streams.contract) means a value the contract
would reject, such as `{"rating": true}`, is refused at the door with a 400 instead of
halting a stream later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from msgspec import Meta, Struct

from travelbot.streams.contract import ChatTurnEvent, FeedbackEvent
from travelbot.timefmt import zone_named

# Long enough for every IANA name ("America/Argentina/ComodRivadavia" is 32 characters).
MAX_TIME_ZONE_CHARS = 64


def _fields_of(event: type[Struct], *names: str) -> list[tuple[str, Any, Any]]:
    """The named fields, typed and defaulted exactly as `event` declares them."""
    info = {f.name: f for f in msgspec.structs.fields(event)}
    return [(name, info[name].type, info[name].default) for name in names]


def _without_nodefault(fields: list[tuple[str, Any, Any]]) -> list[Any]:
    return [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in fields]


def _time_zone_checked(body: Any) -> None:
    """AskBody's __post_init__: msgspec reports the ValueError as the body's error."""
    name = body.time_zone
    if name is not None and zone_named(name) is None:
        raise ValueError(
            f"unknown time_zone {name!r}: use an IANA time zone name such as Europe/Madrid"
        )


if TYPE_CHECKING:  # what the structs built below look like to the type checker

    class RatingBody(Struct, frozen=True):
        rating: int
        comment: str | None

    class AskBody(Struct, frozen=True):
        message: str
        conversation_id: str | None
        stream: bool
        time_zone: str | None

else:
    # The body of POST .../rating: FeedbackEvent's own `rating` and `comment`.
    RatingBody = msgspec.defstruct(
        "RatingBody",
        _without_nodefault(_fields_of(FeedbackEvent, "rating", "comment")),
        frozen=True,
    )
    # A question: ChatTurnEvent's `question`, which the traveller sends as `message`, and
    # the traveller's IANA time zone (the browser's), which says what "tomorrow" means.
    AskBody = msgspec.defstruct(
        "AskBody",
        [
            ("message", _fields_of(ChatTurnEvent, "question")[0][1]),
            ("conversation_id", str | None, None),
            ("stream", bool, False),
            ("time_zone", Annotated[str, Meta(max_length=MAX_TIME_ZONE_CHARS)] | None, None),
        ],
        namespace={"__post_init__": _time_zone_checked},
        frozen=True,
    )


class BodyInvalid(ValueError):
    """The body does not decode as its struct; the message says where and why."""


def body_decode(raw: bytes | str, struct: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=struct)
    except msgspec.ValidationError as exc:
        raise BodyInvalid(f"invalid body: {exc}") from None
    except msgspec.DecodeError:
        raise BodyInvalid("the body must be a JSON object") from None


def body_convert(value: object, struct: type[Any]) -> Any:
    """The same for a value already parsed (a websocket frame)."""
    try:
        return msgspec.convert(value, type=struct, strict=True)
    except msgspec.ValidationError as exc:
        raise BodyInvalid(f"invalid frame: {exc}") from None
