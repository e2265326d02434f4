"""The staff console at ``/console/``: Django's admin, named for the platform.

What a staff member sees there is decided by their role (``lingjing.core.roles``); apps register their own
models in ``<app>/admin.py``.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("灵境管理后台")
admin.site.site_title = _("灵境管理后台")
admin.site.index_title = _("工作台")
admin.site.site_url = "/"
