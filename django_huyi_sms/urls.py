"""The app's URLs: ``path("sms/", include("django_huyi_sms.urls"))``, namespace ``huyi_sms``."""

from django.urls import path

from .pushes.views import ReceiptPushView, ReplyPushView, TemplatePushView

app_name = "huyi_sms"

urlpatterns = [
    path("push/receipt/", ReceiptPushView.as_view(), name="receipt_push"),
    path("push/reply/", ReplyPushView.as_view(), name="reply_push"),
    path("push/template/", TemplatePushView.as_view(), name="template_push"),
]
