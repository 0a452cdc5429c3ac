"""Transfers and holds add event types. A user who chose every event type for a channel (the default)
keeps having every one: the new types are added to their list; a user who chose some keeps their choice."""

from django.db import migrations

BEFORE = {"CHARGE_COMPLETED", "SPEND_COMPLETED", "REVERSAL_COMPLETED"}
ADDED = ["TRANSFER_SENT", "TRANSFER_RECEIVED", "HOLD_PLACED", "HOLD_CAPTURED", "HOLD_RELEASED"]
CHANNELS = ("email", "slack")


def _add(apps, schema_editor):
    Preference = apps.get_model("notifications", "NotificationPreference")
    for preference in Preference.objects.iterator():
        changed = [f"{c}_event_types" for c in CHANNELS if BEFORE <= set(getattr(preference, f"{c}_event_types"))]
        for field in changed:
            setattr(preference, field, [*getattr(preference, field), *[t for t in ADDED
                                                                      if t not in getattr(preference, field)]])
        if changed:
            preference.save(update_fields=changed)


def _remove(apps, schema_editor):
    Preference = apps.get_model("notifications", "NotificationPreference")
    for preference in Preference.objects.iterator():
        for channel in CHANNELS:
            field = f"{channel}_event_types"
            setattr(preference, field, [t for t in getattr(preference, field) if t not in ADDED])
        preference.save(update_fields=[f"{c}_event_types" for c in CHANNELS])


class Migration(migrations.Migration):

    dependencies = [("notifications", "0005_notification_preferences")]

    operations = [migrations.RunPython(_add, _remove)]
