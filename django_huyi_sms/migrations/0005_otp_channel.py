# OtpRecord.channel: how a code reached the phone, texted ("sms") or spoken in a call of the voice
# product ("voice"). Every code recorded before it was texted, which the default says.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('huyi_sms', '0004_balance_alarm_site_caps'),
    ]

    operations = [
        migrations.AddField(
            model_name='otprecord',
            name='channel',
            field=models.CharField(choices=[('sms', 'SMS'), ('voice', 'Voice call')], default='sms', max_length=8, verbose_name='channel'),
        ),
    ]
