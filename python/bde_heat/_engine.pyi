"""Type stub of the native module ``bde_heat._engine`` (the Rust engine, through PyO3)."""

__version__: str

class BdeError(Exception):
    kind: str
    fields: list[tuple[str, str]]
    service: str | None
    vendor_status: int | None
    vendor_code: str | None
    state: str | None

class InvalidInputError(BdeError): ...
class NotOursError(BdeError): ...
class ConflictError(BdeError): ...
class RemoteFailedError(BdeError): ...
class TaskFailedError(BdeError): ...
class UnavailableError(BdeError): ...
class EngineTimeoutError(BdeError): ...
class InternalError(BdeError): ...

def validate(spec_json: str, credentials_file: str | None = None, allowed_endpoints: list[str] = ...) -> None: ...
def validate_neutron(
    spec_json: str,
    access_json: str,
    credentials_file: str | None = None,
    timeout_seconds: float = 30.0,
    allowed_endpoints: list[str] = ...,
) -> None: ...
def validate_bde(
    spec_json: str,
    credentials_file: str | None = None,
    timeout_seconds: float = 30.0,
    allowed_endpoints: list[str] = ...,
) -> None: ...
def check_update(
    before_json: str,
    after_json: str,
    credentials_file: str | None = None,
    allowed_endpoints: list[str] = ...,
) -> None: ...
def named_cluster(spec_json: str) -> str | None: ...
def step(
    action: str,
    spec_json: str,
    state_json: str,
    access_json: str,
    credentials_file: str | None = None,
    group: str | None = None,
    count: int | None = None,
    timeout_seconds: float = 120.0,
    allowed_endpoints: list[str] = ...,
    wire_wait_seconds: float = 0.0,
) -> tuple[str, bool]: ...
def check(
    spec_json: str,
    state_json: str,
    access_json: str,
    credentials_file: str | None = None,
    timeout_seconds: float = 120.0,
    allowed_endpoints: list[str] = ...,
) -> tuple[str, str]: ...
def owned_cluster(state_json: str) -> str | None: ...
def report(spec_json: str, state_json: str) -> str: ...
def live_report(
    spec_json: str,
    state_json: str,
    access_json: str,
    credentials_file: str | None = None,
    timeout_seconds: float = 120.0,
    allowed_endpoints: list[str] = ...,
) -> str: ...
def readable_state(state_json: str) -> str: ...
def bde_url(endpoint: str) -> str: ...
