# SmsLog.carries_code: resends are refused by this mark, not by a list of purposes. Rows sent
# before it are marked when they are one-time codes by the signs there were: a code record
# linked to them, or one of the built-in code purposes.
#
# StatusReceipt: one original per receipt, by a unique key instead of a look before the INSERT
# (identical copies arriving together were both called originals). Copies stored before it
# are relabelled first: the earliest of each set of identical receipts is the original.

from django.db import migrations, models
from django.db.models import Count, Min

# The built-in purposes at the time of this migration (purposes.ALL may grow; this must not).
CODE_PURPOSES = ("login", "password_reset", "verify_phone")


def mark_code_messages(apps, schema_editor):
    SmsLog = apps.get_model("huyi_sms", "SmsLog")
    OtpRecord = apps.get_model("huyi_sms", "OtpRecord")
    linked = OtpRecord.objects.filter(sms_log__isnull=False).values("sms_log_id")
    SmsLog.objects.filter(models.Q(purpose__in=CODE_PURPOSES) | models.Q(pk__in=linked)).update(carries_code=True)


def relabel_duplicates(apps, schema_editor):
    StatusReceipt = apps.get_model("huyi_sms", "StatusReceipt")
    identity = ("smsid", "mobile", "code", "report_time")
    groups = (
        StatusReceipt.objects.values(*identity)
        .annotate(copies=Count("pk"), first=Min("pk"))
        .filter(copies__gt=1)
        .order_by()
    )
    for group in groups.iterator():
        copies = StatusReceipt.objects.filter(**{name: group[name] for name in identity})
        copies.filter(pk=group["first"]).update(duplicate=False)
        copies.exclude(pk=group["first"]).update(duplicate=True)


class Migration(migrations.Migration):
    dependencies = [
        ("huyi_sms", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="smslog",
            name="carries_code",
            field=models.BooleanField(
                default=False,
                help_text="The text held a one-time code or another secret, starred out here; it is never sent again.",
                verbose_name="carries a code",
            ),
        ),
        migrations.RunPython(mark_code_messages, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(relabel_duplicates, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="statusreceipt",
            constraint=models.UniqueConstraint(
                condition=models.Q(("duplicate", False)),
                fields=("smsid", "mobile", "code", "report_time"),
                name="huyi_sms_receipt_once",
            ),
        ),
    ]
