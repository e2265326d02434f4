"""The generic rights machinery: export and erasure, both driven by the registry.

No feature writes its own export or deletion code: declare the fields (``lingjing.privacy.registry``) and these
engines reach them.
"""

from __future__ import annotations

from lingjing.privacy.engines.erasure import ErasureReport, RegistryIncomplete, erase_person
from lingjing.privacy.engines.export import PersonalRecord, export_person, iter_person_data

__all__ = [
    "ErasureReport",
    "PersonalRecord",
    "RegistryIncomplete",
    "erase_person",
    "export_person",
    "iter_person_data",
]
