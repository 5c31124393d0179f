"""Exception tree for the whole service.

    SchedulerError
    ├── ConfigurationError        settings that make start-up impossible
    ├── ValidationFailed          a request field broke a rule (field + rule named)
    │   └── TooLarge              ... a size rule: an uploaded file over Meta's limit (413)
    ├── NotFound                  no message with that id
    │   └── SenderNotFound        no sender with that name
    ├── Forbidden                 the API key's scope does not allow it (the scope named)
    ├── Conflict                  the id exists with other content, or the state forbids the change
    │   ├── SenderExists          a sender with that name or phone_number_id is there already
    │   ├── SenderInUse           the sender still has queued messages (not removed)
    │   ├── SenderReadOnly        the environment's default sender (change the environment)
    │   └── UnreadableRow         a stored message has a value its column cannot hold (SQLite)
    ├── StoreError                the database failed (driver errors are wrapped at store/)
    └── SendError                 what happened when asking Meta to send (whatsapp/)
        ├── RateLimited           130429 / 131056 / 4 / 80007 ...: try later
        ├── TemporaryFailure      5xx, network, 131000, 131016 ...: try later
        │   └── AmbiguousFailure  the request may have reached Meta (timeout, 5xx without body)
        ├── AccountFailure        190, 368, 131031, 131048 ...: stop sending from this number
        └── PermanentFailure      this message will never succeed as it is

Each class's docstring is its default message. Which `SendError` each of Meta's codes gives is
the class column of the one table in `whatsapp/errorcodes.py`.
"""

from __future__ import annotations

from typing import Any


class SchedulerError(Exception):
    """Something went wrong in whatsapp-scheduler."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigurationError(SchedulerError):
    """The service is not configured well enough to start."""


class ValidationFailed(SchedulerError):
    """A field of the request breaks a rule.

    `rule` is English. With `params` it is a template (`str.format`: "at most {most:,}
    characters", most=1024): `template` and `params` are kept so that a reader's language can
    say it from a catalogue (`web/locale/`; docs/dashboard.md, "Languages"), `rule` is it
    filled in. Without params it is the rule as it is (braces and all)."""

    def __init__(self, field: str, rule: str, **params: Any) -> None:
        self.field = field
        self.template = rule
        self.params: dict[str, Any] = params
        self.rule = rule.format(**params) if params else rule
        super().__init__(f"{field}: {self.rule}")


class TooLarge(ValidationFailed):
    """A field (an uploaded file) is larger than its rule allows: HTTP 413, not 422."""


class NotFound(SchedulerError):
    """No message has that id."""


class Forbidden(SchedulerError):
    """This API key's scope does not allow that."""


class Conflict(SchedulerError):
    """The request conflicts with the message's current state."""


class SenderNotFound(NotFound):
    """No sender has that name."""


class SenderExists(Conflict):
    """A sender with that name or phone_number_id exists already."""

    def __init__(self, field: str, value: str) -> None:
        self.field = field  # "name" or "phone_number_id"
        super().__init__(f"{field}: a sender with {field} {value!r} exists already")


class SenderInUse(Conflict):
    """The sender still has messages waiting to be sent."""


class SenderReadOnly(Conflict):
    """The sender comes from the environment and cannot be changed through the API."""


class UnreadableRow(Conflict):
    """A stored message has a value that cannot be read (the row was changed outside the service)."""

    def __init__(self, message_id: str, column: str) -> None:
        self.message_id = message_id
        self.column = column
        super().__init__(
            f"message {message_id!r} cannot be read: its stored {column} is not a valid value "
            "(the row was changed outside the service); correct or delete the row in the database"
        )


class StoreError(SchedulerError):
    """The database could not complete the operation."""


class SendError(SchedulerError):
    """Meta did not accept the message."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        self.code = code
        self.http_status = http_status
        super().__init__(message)


class RateLimited(SendError):
    """Meta asked us to slow down."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after  # seconds, when the answer said how long to wait
        super().__init__(message, code=code, http_status=http_status)


class TemporaryFailure(SendError):
    """Meta or the network failed for now; the same request may succeed later."""


class AmbiguousFailure(TemporaryFailure):
    """No clear answer: the request may or may not have reached Meta."""


class AccountFailure(SendError):
    """The business account or token cannot send until someone fixes it."""


class PermanentFailure(SendError):
    """Meta refused this message for good."""
