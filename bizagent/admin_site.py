"""The admin's branding: the product's name instead of "Django administration".

Set on the stock ``admin.site`` at start-up (``BizagentConfig.ready``) rather than
through a custom ``AdminSite`` class: every app registers its models on ``admin.site``
(``@admin.register``) and names its URLs ``admin:…``, and a replacement default site
(``AdminConfig.default_site``) would change the object they all import for three
strings. The texts are lazy, so each request reads them in its own language.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

#: The product's name; a name, so the same in every language.
PRODUCT_NAME = "bizagent"


def admin_site_brand(site: admin.AdminSite | None = None) -> None:
    """Give ``site`` (the default admin site unless given) the product's header and titles."""
    site = site or admin.site
    site.site_header = PRODUCT_NAME
    site.site_title = _("bizagent back office")
    site.index_title = _("Administration")
    # The header's "View site" link leads to the home page, not the admin index.
    site.site_url = "/"
    # django-q2 names its app after Q_CLUSTER's "label", a plain string in the settings
    # (which must stay serialisable): give the admin the same name, translatable.
    if apps.is_installed("django_q"):
        apps.get_app_config("django_q").verbose_name = _("Task queue")
