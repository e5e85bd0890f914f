"""A throw-away resource plugin that proves the harness runs plugins for real.

Every lifecycle call is appended to the journal file named by
BDE_HEAT_TEST_JOURNAL, so a test can see what Heat called, in what order.
"""

import os

from heat.engine import attributes, properties, resource


def _journal(event):
    with open(os.environ["BDE_HEAT_TEST_JOURNAL"], "a") as f:
        f.write(event + "\n")


class Marker(resource.Resource):
    """Takes two polls to create; its attribute echoes its label upper-cased."""

    PROPERTIES = (LABEL,) = ("label",)
    ATTRIBUTES = (SHOUT,) = ("shout",)

    properties_schema = {
        LABEL: properties.Schema(properties.Schema.STRING, "A label.", required=True),
    }
    attributes_schema = {
        SHOUT: attributes.Schema("The label, upper-cased.", type=attributes.Schema.STRING),
    }

    def handle_create(self):
        self.resource_id_set("marker-" + self.properties[self.LABEL])
        _journal("create")
        return {"polls": 0}

    def check_create_complete(self, token):
        token["polls"] += 1
        _journal(f"poll {token['polls']}")
        return token["polls"] >= 2

    def handle_delete(self):
        _journal(f"delete {self.resource_id}")

    def _resolve_attribute(self, name):
        if name == self.SHOUT:
            return self.properties[self.LABEL].upper()


def resource_mapping():
    return {"BdeHeat::Test::Marker": Marker}
