"""The exceptions the engine raises: one base class, one subclass per kind.

Each carries ``kind``, ``fields`` (``[(field, message)]`` for invalid input),
``service`` (``"BDE"``, ``"vCenter"``, ``"OpenStack"`` or ``None``),
``vendor_status``, ``vendor_code`` and ``state`` (the engine state to save,
``None`` when the call changed nothing).
"""

from bde_heat._engine import (
    BdeError,
    ConflictError,
    EngineTimeoutError,
    InternalError,
    InvalidInputError,
    NotOursError,
    RemoteFailedError,
    TaskFailedError,
    UnavailableError,
)

__all__ = [
    "BdeError",
    "ConflictError",
    "EngineTimeoutError",
    "InternalError",
    "InvalidInputError",
    "NotOursError",
    "RemoteFailedError",
    "TaskFailedError",
    "UnavailableError",
]
