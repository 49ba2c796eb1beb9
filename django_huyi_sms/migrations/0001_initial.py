# The schema of 0.1.0, squashed from the pre-release migrations 0001-0006. A database migrated
# with those already has this schema and has 0001_initial recorded, so it needs nothing.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='OtpThrottle',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mobile', models.CharField(max_length=32, unique=True, verbose_name='mobile')),
                ('last_sent_at', models.DateTimeField(blank=True, null=True, verbose_name='last code sent')),
                ('day', models.DateField(blank=True, null=True, verbose_name='day')),
                ('sent_today', models.PositiveIntegerField(default=0, verbose_name='codes sent that day')),
            ],
            options={
                'verbose_name': 'code throttle',
                'verbose_name_plural': 'code throttles',
            },
        ),
        migrations.CreateModel(
            name='SmsLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('product', models.CharField(choices=[('sms', 'Verification / notification SMS'), ('marketing', 'Marketing SMS'), ('voice', 'Voice verification code'), ('voice_notice', 'Voice notice'), ('international', 'International SMS')], default='sms', max_length=16, verbose_name='product')),
                ('mobile', models.CharField(max_length=32, verbose_name='mobile')),
                ('content', models.TextField(verbose_name='content')),
                ('parts', models.PositiveSmallIntegerField(default=1, verbose_name='billed parts')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('submitted', 'Submitted'), ('delivered', 'Delivered'), ('undelivered', 'Undelivered'), ('failed', 'Failed'), ('unknown', 'Unknown')], default='queued', max_length=16, verbose_name='status')),
                ('smsid', models.CharField(blank=True, default='', max_length=64, verbose_name='smsid')),
                ('provider_code', models.IntegerField(blank=True, null=True, verbose_name='provider code')),
                ('provider_msg', models.CharField(blank=True, default='', max_length=255, verbose_name='provider message')),
                ('receipt_code', models.CharField(blank=True, default='', max_length=32, verbose_name='receipt code')),
                ('receipt_msg', models.CharField(blank=True, default='', max_length=255, verbose_name='receipt message')),
                ('purpose', models.CharField(blank=True, default='', max_length=32, verbose_name='purpose')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('dispatched_at', models.DateTimeField(blank=True, help_text='When the queued message was handed to the task queue, or when its retry is due.', null=True, verbose_name='handed to a worker')),
                ('claimed_at', models.DateTimeField(blank=True, help_text='When a worker took the message to send it; empty while it waits in the queue.', null=True, verbose_name='sending since')),
                ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                ('submitted_at', models.DateTimeField(blank=True, null=True, verbose_name='submitted')),
                ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='receipt time')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('receipt_waiting', models.BooleanField(default=False, editable=False)),
                ('resent_from', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='resends', to='huyi_sms.smslog', verbose_name='resent from')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'SMS log',
                'verbose_name_plural': 'SMS logs',
                'ordering': ['-created_at', '-id'],
                'permissions': [('view_full_mobile', 'Can see full mobile numbers')],
            },
        ),
        migrations.CreateModel(
            name='OtpRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mobile', models.CharField(max_length=32, verbose_name='mobile')),
                ('purpose', models.CharField(max_length=32, verbose_name='purpose')),
                ('code_hash', models.CharField(editable=False, max_length=64)),
                ('salt', models.CharField(editable=False, max_length=32)),
                ('status', models.CharField(choices=[('active', 'Active'), ('used', 'Used'), ('superseded', 'Superseded by a newer code'), ('locked', 'Too many wrong tries'), ('failed', 'Could not be sent')], default='active', max_length=16, verbose_name='status')),
                ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='wrong tries')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('expires_at', models.DateTimeField(verbose_name='expires')),
                ('used_at', models.DateTimeField(blank=True, null=True, verbose_name='used')),
                ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='requested from')),
                ('sms_log', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='huyi_sms.smslog', verbose_name='SMS log')),
            ],
            options={
                'verbose_name': 'one-time code',
                'verbose_name_plural': 'one-time codes',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='SmsTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('product', models.CharField(choices=[('sms', 'Verification / notification SMS'), ('marketing', 'Marketing SMS'), ('voice', 'Voice verification code'), ('voice_notice', 'Voice notice'), ('international', 'International SMS')], default='sms', max_length=16, verbose_name='product')),
                ('content', models.TextField(verbose_name='content')),
                ('templateid', models.BigIntegerField(blank=True, null=True, verbose_name='template id')),
                ('status', models.CharField(choices=[('pending', 'Pending review'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='pending', max_length=16, verbose_name='status')),
                ('review_msg', models.CharField(blank=True, default='', max_length=255, verbose_name='review message')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='submitted')),
                ('reviewed_at', models.DateTimeField(blank=True, null=True, verbose_name='reviewed')),
            ],
            options={
                'verbose_name': 'SMS template',
                'verbose_name_plural': 'SMS templates',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['-created_at'], name='huyi_sms_tpl_created_idx'), models.Index(fields=['status', '-created_at'], name='huyi_sms_tpl_status_idx'), models.Index(fields=['product', '-created_at'], name='huyi_sms_tpl_product_idx'), models.Index(fields=['templateid'], name='huyi_sms_tpl_templateid_idx')],
                'constraints': [models.UniqueConstraint(fields=('product', 'templateid'), name='huyi_sms_unique_templateid')],
            },
        ),
        migrations.CreateModel(
            name='StatusReceipt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('smsid', models.CharField(max_length=64, verbose_name='smsid')),
                ('mobile', models.CharField(max_length=32, verbose_name='mobile')),
                ('code', models.CharField(help_text='2 = delivered; anything else = not delivered', max_length=16, verbose_name='code')),
                ('msg', models.CharField(blank=True, default='', max_length=255, verbose_name='status text')),
                ('report_time', models.DateTimeField(verbose_name='report time')),
                ('received_at', models.DateTimeField(auto_now_add=True, verbose_name='received')),
                ('duplicate', models.BooleanField(default=False, help_text='The same receipt had already arrived (a provider retry).', verbose_name='duplicate')),
                ('raw', models.JSONField(default=dict, verbose_name='raw push')),
                ('log', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='receipts', to='huyi_sms.smslog', verbose_name='SMS log')),
            ],
            options={
                'verbose_name': 'delivery receipt',
                'verbose_name_plural': 'delivery receipts',
                'ordering': ['-received_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='UpstreamReply',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mobile', models.CharField(db_index=True, max_length=32, verbose_name='mobile')),
                ('content', models.TextField(verbose_name='content')),
                ('smsid', models.CharField(blank=True, default='', max_length=64, verbose_name='smsid')),
                ('reply_time', models.DateTimeField(verbose_name='reply time')),
                ('received_at', models.DateTimeField(auto_now_add=True, verbose_name='received')),
                ('is_opt_out', models.BooleanField(default=False, verbose_name='opt-out')),
                ('fingerprint', models.CharField(editable=False, max_length=64, unique=True)),
                ('raw', models.JSONField(default=dict, verbose_name='raw push')),
                ('log', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='replies', to='huyi_sms.smslog', verbose_name='replied to')),
            ],
            options={
                'verbose_name': 'reply',
                'verbose_name_plural': 'replies',
                'ordering': ['-reply_time', '-id'],
            },
        ),
        migrations.CreateModel(
            name='OptOut',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mobile', models.CharField(max_length=32, unique=True, verbose_name='mobile')),
                ('reason', models.CharField(choices=[('replied', 'Replied T / TD / N / 退订'), ('blacklisted', 'Blacklisted by the provider'), ('manual', 'Added by staff')], max_length=16, verbose_name='reason')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='since')),
                ('reply', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='huyi_sms.upstreamreply', verbose_name='reply')),
            ],
            options={
                'verbose_name': 'opt-out',
                'verbose_name_plural': 'opt-outs',
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='UserMobile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mobile', models.CharField(max_length=32, unique=True, verbose_name='mobile')),
                ('verified_at', models.DateTimeField(blank=True, null=True, verbose_name='verified')),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='huyi_mobile', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'user mobile',
                'verbose_name_plural': 'user mobiles',
            },
        ),
        migrations.AddIndex(
            model_name='smslog',
            index=models.Index(fields=['smsid'], name='huyi_sms_smsid_idx'),
        ),
        migrations.AddIndex(
            model_name='smslog',
            index=models.Index(fields=['mobile', '-created_at'], name='huyi_sms_mobile_idx'),
        ),
        migrations.AddIndex(
            model_name='smslog',
            index=models.Index(fields=['-created_at'], name='huyi_sms_created_idx'),
        ),
        migrations.AddIndex(
            model_name='smslog',
            index=models.Index(fields=['status', '-created_at'], name='huyi_sms_status_idx'),
        ),
        migrations.AddIndex(
            model_name='smslog',
            index=models.Index(fields=['product', '-created_at'], name='huyi_sms_product_idx'),
        ),
        migrations.AddIndex(
            model_name='smslog',
            index=models.Index(fields=['purpose', '-created_at'], name='huyi_sms_purpose_idx'),
        ),
        migrations.AddIndex(
            model_name='otprecord',
            index=models.Index(fields=['mobile', 'purpose', '-created_at'], name='huyi_sms_otp_lookup_idx'),
        ),
        migrations.AddIndex(
            model_name='otprecord',
            index=models.Index(fields=['-created_at'], name='huyi_sms_otp_created_idx'),
        ),
        migrations.AddIndex(
            model_name='otprecord',
            index=models.Index(fields=['status', '-created_at'], name='huyi_sms_otp_status_idx'),
        ),
        migrations.AddIndex(
            model_name='statusreceipt',
            index=models.Index(fields=['smsid', 'mobile'], name='huyi_sms_receipt_smsid_idx'),
        ),
        migrations.AddIndex(
            model_name='statusreceipt',
            index=models.Index(condition=models.Q(('log__isnull', True)), fields=['smsid'], name='huyi_sms_receipt_pending_idx'),
        ),
        migrations.AddIndex(
            model_name='statusreceipt',
            index=models.Index(fields=['-received_at'], name='huyi_sms_receipt_recv_idx'),
        ),
        migrations.AddIndex(
            model_name='statusreceipt',
            index=models.Index(fields=['mobile', '-received_at'], name='huyi_sms_receipt_mobile_idx'),
        ),
        migrations.AddIndex(
            model_name='statusreceipt',
            index=models.Index(fields=['duplicate', '-received_at'], name='huyi_sms_receipt_dup_idx'),
        ),
        migrations.AddIndex(
            model_name='upstreamreply',
            index=models.Index(fields=['-reply_time'], name='huyi_sms_reply_time_idx'),
        ),
        migrations.AddIndex(
            model_name='upstreamreply',
            index=models.Index(fields=['is_opt_out', '-reply_time'], name='huyi_sms_reply_optout_idx'),
        ),
        migrations.AddIndex(
            model_name='upstreamreply',
            index=models.Index(fields=['smsid'], name='huyi_sms_reply_smsid_idx'),
        ),
        migrations.AddIndex(
            model_name='optout',
            index=models.Index(fields=['-created_at'], name='huyi_sms_optout_created_idx'),
        ),
        migrations.AddIndex(
            model_name='optout',
            index=models.Index(fields=['reason', '-created_at'], name='huyi_sms_optout_reason_idx'),
        ),
    ]
