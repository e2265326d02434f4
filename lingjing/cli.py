"""The ``lingjing`` console script: Django's management commands, with configuration errors in one line."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lingjing.settings")
    from django.core.exceptions import ImproperlyConfigured

    args = list(sys.argv if argv is None else argv)
    args[0] = "lingjing"
    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        print(f"lingjing: configuration error: {exc}", file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
