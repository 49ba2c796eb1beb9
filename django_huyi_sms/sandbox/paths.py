"""Where the sandbox's pages live under its root, the same for both servers.

The Django URLconf (``urls.py``) and the standalone server (``wsgi.py`` with
``standalone.py``) route these paths, and :class:`Links` writes them into the
pages, so a page links correctly wherever the sandbox is mounted:
``/sms/sandbox/`` (``SANDBOX_SITE``), ``/sandbox/`` (a site's own include) or
``/`` (``manage.py huyi_sandbox``). Pure Python; no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["MOBILE", "PHONE", "PHONE_JSON", "REVIEW_TEMPLATE", "Links"]

#: The template review form's target.
REVIEW_TEMPLATE = "templates/review/"
#: A phone page and its JSON; ``mobile`` is checked against :data:`MOBILE` by the page itself.
PHONE = r"phone/(?P<mobile>[^/]+)/"
PHONE_JSON = r"phone/(?P<mobile>[^/]+)\.json"

#: The numbers the sandbox stores: mainland (11 digits) or international (country code, a space, the
#: number: "44 7400123456"), or the latter's digits run together; a "+" before either is allowed.
MOBILE = re.compile(r"\+?(?:[0-9]{5,20}|[0-9]{1,3} [0-9]{4,17})")


@dataclass(frozen=True)
class Links:
    """The addresses a sandbox page links to.

    ``root`` is the sandbox's index, ending in ``/``. ``home`` and ``login`` are the way back to
    the site the sandbox serves (its home page, the app's sign-in page), ``""`` where there is none.
    """

    root: str
    home: str = ""
    login: str = ""

    @property
    def index(self) -> str:
        return self.root

    @property
    def review_template(self) -> str:
        return f"{self.root}{REVIEW_TEMPLATE}"

    def phone(self, mobile: str) -> str:
        return f"{self.root}phone/{quote(mobile, safe='+')}/"

    def phone_json(self, mobile: str) -> str:
        return f"{self.root}phone/{quote(mobile, safe='+')}.json"
