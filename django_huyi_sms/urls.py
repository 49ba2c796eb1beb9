"""The app's URLs: ``path("sms/", include("django_huyi_sms.urls"))``, namespace ``huyi_sms``."""

from django.urls import include, path

from . import api, views
from .pushes.views import ReceiptPushView, ReplyPushView, TemplatePushView
from .sandbox import urls as sandbox_urls

app_name = "huyi_sms"

urlpatterns = [
    # Provider pushes (the vendor console points here, with ?token=…).
    path("push/receipt/", ReceiptPushView.as_view(), name="receipt_push"),
    path("push/reply/", ReplyPushView.as_view(), name="reply_push"),
    path("push/template/", TemplatePushView.as_view(), name="template_push"),
    # The JSON API for apps and mini-programs.
    path("api/otp/", api.OtpRequestView.as_view(), name="otp_request"),
    path("api/otp/verify/", api.OtpVerifyView.as_view(), name="otp_verify"),
    # Pages.
    path("login/", views.CodeLoginView.as_view(), name="login"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/confirm/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password-reset/complete/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("verify-phone/", views.VerifyPhoneView.as_view(), name="verify_phone"),
    # The sandbox gateway and its phone pages (huyi_sms:sandbox:…): 404 unless HUYI_SMS["SANDBOX_SITE"] is set.
    path(
        "sandbox/",
        include((sandbox_urls.urlpatterns, sandbox_urls.app_name), namespace="sandbox"),
        {"site_sandbox": True},
    ),
]
