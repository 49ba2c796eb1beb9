"""What error reports may show of a message: neither its number nor its text.

Django's technical 500 page, ``AdminEmailHandler(include_html=True)`` and error
trackers that record frame locals print every variable of every frame and the
request's POST. A frame that holds a one-time code, a message's text or the
full number it goes to runs under :data:`private`: Django then hides every
variable of that frame *and of every frame it calls* (the backend's, the
client's, the HTTP library's). Views name the POST parameters to hide with
:data:`PRIVATE_POST_PARAMETERS`. Models and ``OutgoingSms`` mask the number in
their ``repr``.
"""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables

__all__ = ["private", "PRIVATE_POST_PARAMETERS"]

#: ``@private``: no variable of the decorated function, or of those it calls, in error reports.
private = sensitive_variables()

#: The form fields that carry a number, a code or a password.
PRIVATE_POST_PARAMETERS = ("mobile", "code", "new_password", "new_password1", "new_password2")
