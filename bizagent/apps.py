from django.apps import AppConfig


class BizagentConfig(AppConfig):
    name = "bizagent"
    verbose_name = "bizagent infrastructure"

    def ready(self) -> None:
        # Only superusers may touch django-q2's schedules and queued tasks: each names a
        # function the cluster will import and call.
        from bizagent.q_admin import q_admin_restrict

        q_admin_restrict()
        # The product's name in the admin's header and titles (why not a custom site: there).
        from bizagent.admin_site import admin_site_brand

        admin_site_brand()
        # Rules between settings, checked at start-up (bizagent.E001…).
        from bizagent import checks  # noqa: F401

        # Long-running processes: what is loaded now is never scanned again, young
        # collections are spaced out (measured in bizagent.collector).
        from bizagent.collector import collector_tune

        collector_tune()
