"""Who acts, as the type checker sees it (annotations only; nothing here runs).

Services take the person who acted (``request.user`` from a view, the admin or a mailed
link) or None when the system acted on its own. The project keeps Django's own user
model (``AUTH_USER_MODEL`` is not swapped), which is what django-stubs resolves every
foreign key to a user to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

#: A signed-in person: an approver, a requester, an admin.
Person: TypeAlias = "User"
#: A request's user, signed in or not (services that need a permission refuse the latter).
RequestUser: TypeAlias = "User | AnonymousUser"
#: Whoever acted: a person, a request's anonymous user (services refuse or ignore it),
#: or None when the system acted.
Actor: TypeAlias = "User | AnonymousUser | None"
