from django.apps import AppConfig


class BizagentConfig(AppConfig):
    name = "bizagent"
    verbose_name = "bizagent infrastructure"
