"""Remaining-balance refunds and expiry add event types. A user who chose every event type for a channel (the
default) keeps having every one: the new types are added to their list; a user who chose some keeps their
choice (an expiry notice is sent on each channel they chose, whatever its types: wallets.services)."""

from django.db import migrations

BEFORE = {"CHARGE_COMPLETED", "SPEND_COMPLETED", "REVERSAL_COMPLETED", "TRANSFER_SENT", "TRANSFER_RECEIVED",
          "HOLD_PLACED", "HOLD_CAPTURED", "HOLD_RELEASED"}
ADDED = ["REFUND_REQUESTED", "PAYOUT_COMPLETED", "REFUND_REQUEST_COMPLETED", "BALANCE_EXPIRY_NOTICE",
         "BALANCE_EXPIRED"]
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

    dependencies = [("notifications", "0008_field_labels")]

    operations = [migrations.RunPython(_add, _remove)]
