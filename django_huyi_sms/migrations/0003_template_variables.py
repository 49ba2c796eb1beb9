# SmsLog.templateid and SmsLog.variables: a template send (send_sms(template=..., variables=[...]))
# keeps its template and variables beside the text they render, and a queued one is sent from them.
# Rows sent before it were whole-content sends: no templateid, no variables.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("huyi_sms", "0002_code_mark_and_receipt_once"),
    ]

    operations = [
        migrations.AddField(
            model_name="smslog",
            name="templateid",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="template id"),
        ),
        migrations.AddField(
            model_name="smslog",
            name="variables",
            field=models.JSONField(blank=True, default=list, verbose_name="template variables"),
        ),
    ]
