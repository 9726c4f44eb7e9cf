"""Words of the libraries' admin pages that our staff read, translated in our catalogue.

django-q2 marks its model names for translation but ships no Japanese; our catalogue
(``LOCALE_PATHS``) is looked up before the libraries' own, so listing the msgids here
lets ``python -m bizagent.i18n_messages update`` extract them and the superusers' System
pages read in Japanese too. Nothing imports this module: it only holds the msgids.
"""

from django.utils.translation import gettext_noop

DJANGO_Q_MODEL_NAMES = (
    gettext_noop("Task"),
    gettext_noop("Tasks"),
    gettext_noop("Successful task"),
    gettext_noop("Successful tasks"),
    gettext_noop("Failed task"),
    gettext_noop("Failed tasks"),
    gettext_noop("Scheduled task"),
    gettext_noop("Scheduled tasks"),
    gettext_noop("Queued task"),
    gettext_noop("Queued tasks"),
)
