"""The core app has no models of its own; this module exists so Django sends it ``post_migrate``
(which creates the database cache table, see ``apps.py``)."""
