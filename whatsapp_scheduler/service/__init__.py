"""The use cases (`scheduler`), the validation they run first (`validation`), and the values
they take and give (`requests`). Callers import the names below from here."""

from whatsapp_scheduler.service.requests import BatchItem, ScheduleRequest, StatusReport
from whatsapp_scheduler.service.scheduler import EDIT_FIELDS, MAX_BATCH, SchedulerService
from whatsapp_scheduler.service.senders import NewSender, ReencryptReport, SenderAdmin
from whatsapp_scheduler.service.series import Occurrence, SeriesReport
from whatsapp_scheduler.service.validation import ID_PATTERN, MAX_TEXT_LENGTH, content_hash

__all__ = [
    "EDIT_FIELDS",
    "ID_PATTERN",
    "MAX_BATCH",
    "MAX_TEXT_LENGTH",
    "BatchItem",
    "NewSender",
    "Occurrence",
    "ReencryptReport",
    "ScheduleRequest",
    "SchedulerService",
    "SenderAdmin",
    "SeriesReport",
    "StatusReport",
    "content_hash",
]
