"""django-q2's admin, for superusers only.

django-q2 registers admins for Schedule, its task results (Success, Failure) and the
ORM broker's queued tasks (OrmQ). Each of those rows names an importable function the
cluster will call (``builtins.open`` included), so anyone who may add, change or
resubmit one runs arbitrary code outside governance. Model permissions cannot express
that, so we re-register every django_q admin behind a superuser check, keeping the rest
of django-q2's admin as it is. Called from ``BizagentConfig.ready`` (the admin has
autodiscovered django_q's admin module by then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

if TYPE_CHECKING:
    # The mixin's super() calls reach the ModelAdmin it is mixed into.
    _MixinBase = admin.ModelAdmin[Any]
else:
    _MixinBase = object

Q_APP_LABEL = "django_q"


class SuperuserOnlyAdminMixin(_MixinBase):
    """Every permission is refused to anyone but an active superuser."""

    @staticmethod
    def _is_superuser(request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._is_superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return self._is_superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._is_superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._is_superuser(request) and super().has_delete_permission(request, obj)


def q_admin_restrict(*, site: admin.AdminSite = admin.site) -> list[str]:
    """Re-register each django_q model admin on ``site`` as superuser-only.

    Returns the model names restricted. Idempotent: an admin already restricted is left.
    """
    restricted: list[str] = []
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label != Q_APP_LABEL or isinstance(model_admin, SuperuserOnlyAdminMixin):
            continue
        admin_class = type(model_admin)
        superuser_only = type(
            f"SuperuserOnly{admin_class.__name__}", (SuperuserOnlyAdminMixin, admin_class), {}
        )
        site.unregister(model)
        site.register(model, superuser_only)
        restricted.append(str(model._meta.model_name))
    return restricted
