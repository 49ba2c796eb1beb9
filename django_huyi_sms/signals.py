"""Signals the app sends. Receivers get keyword arguments only.

- ``sms_sent(sender=SmsLog, log)``: the provider accepted a message (status ``submitted``).
- ``sms_failed(sender=SmsLog, log, error)``: a send failed (status ``failed``); ``error`` is the exception.
- ``sms_status_changed(sender=SmsLog, log, old_status, new_status, receipt)``: once per real transition
  caused by a delivery receipt.
- ``reply_received(sender=UpstreamReply, reply)``: somebody texted back.
- ``template_reviewed(sender=SmsTemplate, template)``: the provider approved or rejected a template.
- ``otp_verified(sender=OtpRecord, record, user)``: a one-time code was verified.
- ``balance_low(sender=None, product, balance, threshold)``: a balance reading went under
  ``LOW_BALANCE_THRESHOLD``: once per crossing, not at every reading under it (``balance_alarm.py``).
"""

from django.dispatch import Signal

sms_sent = Signal()
sms_failed = Signal()
sms_status_changed = Signal()
reply_received = Signal()
template_reviewed = Signal()
otp_verified = Signal()
balance_low = Signal()
