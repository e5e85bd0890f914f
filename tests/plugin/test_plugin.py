"""The plugin as an operator installs it, without the test world: its options, its
metadata, a broken native module, and how engine errors become Heat's."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_oslo_config_generator_lists_the_bde_heat_options():
    out = subprocess.run(
        [str(BIN / "oslo-config-generator"), "--namespace", "bde_heat"], capture_output=True, text=True, check=True
    ).stdout
    assert "[bde_heat]" in out
    assert "#credentials_file = <None>" in out
    assert "#step_timeout = 120.0" in out
    assert "#default_resource_pool = <None>" in out


def test_the_wheel_metadata_has_only_classifiers_pypi_accepts():
    from trove_classifiers import classifiers

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    unknown = [c for c in project["classifiers"] if c not in classifiers]
    assert unknown == []


def test_a_missing_native_module_logs_an_error_instead_of_stopping_heat_engine():
    shim = ROOT / "python" / "bde_heat" / "heat_plugin" / "bde_cluster.py"
    code = (
        "import sys, logging, runpy\n"
        "logging.basicConfig(level=logging.ERROR, stream=sys.stdout)\n"
        "sys.modules['bde_heat._engine'] = None  # as if the wheel did not fit this Python\n"
        f"mapping = runpy.run_path({str(shim)!r})['resource_mapping']()\n"
        "print('MAPPING', mapping)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "MAPPING {}" in out.stdout
    assert "VirtualElephant::VMware::BDE is not available" in out.stdout


@pytest.fixture(scope="module")
def resource_class():
    from oslo_service import backend

    try:
        backend.init_backend(backend.BackendType.THREADING)
    except Exception:  # already chosen in this process
        pass
    from bde_heat import resource

    return resource.BdeCluster


def engine_error(cls, message, **attrs):
    e = cls(message)
    for k, v in {"fields": [], "service": None, "vendor_status": None, "vendor_code": None, "state": None}.items():
        setattr(e, k, attrs.get(k, v))
    return e


def test_engine_errors_become_heats_exceptions_by_kind(resource_class):
    from bde_heat import errors
    from heat.common import exception

    heat = lambda e: resource_class._heat_error(resource_class, e)  # noqa: E731
    invalid = heat(engine_error(errors.InvalidInputError, "bad", fields=[("cluster_name", "has a -")]))
    assert isinstance(invalid, exception.StackValidationFailed)
    assert "Property cluster_name: has a -" in str(invalid)
    failed = heat(engine_error(errors.TaskFailedError, "BDE: clone failed"))
    assert isinstance(failed, exception.ResourceInError), "Heat may retry a failed BDE task"
    for cls in (errors.NotOursError, errors.UnavailableError, errors.ConflictError, errors.InternalError):
        assert type(heat(engine_error(cls, "x"))) is exception.Error


def test_every_engine_error_is_one_bde_error():
    from bde_heat import _engine, errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.BdeError)
        assert getattr(_engine, name) is getattr(errors, name)
    assert not issubclass(errors.InternalError, BaseException) or issubclass(errors.InternalError, Exception)


def installed_wheel_tags():
    from importlib.metadata import distribution

    wheel = distribution("bde-heat").read_text("WHEEL")
    return [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]


def test_the_installed_wheel_is_abi3_for_python_3_8_on_manylinux2014():
    tags = installed_wheel_tags()
    assert "cp38-abi3-manylinux_2_17_x86_64" in tags or "cp38-abi3-manylinux2014_x86_64" in tags, tags


def test_the_native_module_needs_no_glibc_newer_than_2_17():
    import bde_heat._engine as engine

    symbols = subprocess.run(["objdump", "-T", engine.__file__], capture_output=True, text=True, check=True).stdout
    versions = {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", symbols)}
    assert versions, "no glibc symbol read"
    assert max(versions) <= (2, 17), f"needs glibc {'.'.join(map(str, max(versions)))}"


def python_3_8():
    """A CPython 3.8, if this machine has one (the image's pyenv keeps several; its shims
    run only the version pyenv has selected, so the interpreters themselves)."""
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.8*/bin/python3.8"))
    found = shutil.which("python3.8")
    if found and "/shims/" not in found:
        return found
    return str(pyenv[-1]) if pyenv else None


def test_the_wheel_installs_and_its_engine_answers_on_python_3_8(tmp_path):
    python = python_3_8()
    if python is None:
        pytest.skip("no CPython 3.8 on this machine")
    wheels = sorted((ROOT / "target" / "wheels").glob("bde_heat-*-abi3-*.whl"))
    assert wheels, "scripts/world up builds the wheel into target/wheels"
    venv = tmp_path / "py38"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", "--no-index", str(wheels[-1])], check=True
    )
    code = (
        "import sys\n"
        "from bde_heat import _engine, errors\n"
        "print('PYTHON', sys.version_info[:2])\n"
        "try:\n"
        '    _engine.validate(\'{"cluster_name": "has-a-dash"}\', None)\n'
        "except errors.InvalidInputError as e:\n"
        "    print('FIELDS', sorted({f for f, _ in e.fields}))\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "PYTHON (3, 8)" in out.stdout
    assert "'cluster_name'" in out.stdout, out.stdout
