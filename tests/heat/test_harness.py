"""The in-process Heat harness loads a plugin directory and runs a stack's lifecycle."""

import os

import pytest
from harness import heat_engine  # noqa: I001  (selects oslo.service's backend first)

PLUGINS = os.path.join(os.path.dirname(__file__), "plugins")

TEMPLATE = """
heat_template_version: 2021-04-16
resources:
  marker:
    type: BdeHeat::Test::Marker
    properties:
      label: hello
outputs:
  shout:
    value: {get_attr: [marker, shout]}
"""


@pytest.fixture()
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("BDE_HEAT_TEST_JOURNAL", str(tmp_path / "journal"))
    with heat_engine([PLUGINS]) as eng:
        yield eng


def journal(tmp_path):
    return (tmp_path / "journal").read_text().split("\n")[:-1]


def test_the_plugin_is_registered_by_the_real_loader(engine):
    assert "BdeHeat::Test::Marker" in engine.resource_types()


def test_a_stack_is_created_polled_and_deleted(engine, tmp_path):
    stk = engine.stack(TEMPLATE)
    stk.create()
    assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
    assert engine.outputs(stk) == {"shout": "HELLO"}
    assert stk["marker"].resource_id == "marker-hello"
    stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    assert journal(tmp_path) == ["create", "poll 1", "poll 2", "delete marker-hello"]


def test_a_missing_required_property_fails_validation(engine):
    from heat.common import exception

    with pytest.raises(exception.StackValidationFailed, match="label"):
        engine.stack(TEMPLATE.replace("label: hello", "{}"))
