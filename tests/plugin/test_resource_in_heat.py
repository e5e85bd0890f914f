"""The resource class through Heat's own test helpers (HeatTestCase, parse_stack, the
scheduler), without the world: its schema as Heat reads it, the translation of the
2015 ``cluster_net`` and of Neutron names, and how engine answers become Heat's
statuses, physical ids, errors and update decisions. Only the engine's two remote
entry points, ``step`` and ``validate_bde``, are scripted; validate, owned_cluster and report
are the real engine. Runs in seconds."""

import json
import os
import sys

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except backend.exceptions.BackendAlreadySelected:
    pass

from bde_heat import errors  # noqa: E402
from bde_heat import resource as bde  # noqa: E402
from heat.common import exception, template_format  # noqa: E402
from heat.engine import api as heat_api  # noqa: E402
from heat.engine import resource, resources, scheduler  # noqa: E402
from heat.engine.clients.os import neutron  # noqa: E402
from heat.tests import common, utils  # noqa: E402
from oslo_config import cfg  # noqa: E402

TYPE = "VirtualElephant::VMware::BDE"
HEAT_ETC = os.path.join(sys.prefix, "etc", "heat")  # where pip puts Heat's environment and templates

TEMPLATE = """
heat_template_version: 2018-08-31
resources:
  cluster:
    type: VirtualElephant::VMware::BDE
    properties:
      bde_endpoint: https://bde.example:8443
      vcm_server: https://vc.example
      username: admin@vsphere.local
      password: pw
      cluster_name: analytics
      network: data-net
      distro: bigtop
      node_groups:
        - {name: master, roles: [hadoop_namenode], instance_num: 1}
        - {name: worker, roles: [hadoop_datanode], instance_num: 2}
"""

NETWORK_ID = "5f0f2c3e-0000-4000-8000-000000000001"


def state(claim=None, **fields):
    """An engine state as the engine writes it."""
    value = dict(fields)
    if claim:
        value["cluster"] = {"name": "analytics", "how": claim}
    return json.dumps(value)


class BdeResourceTest(common.HeatTestCase):
    def setUp(self):
        # Heat's own suite runs from its source tree; installed, its files are under the prefix.
        cfg.CONF.set_override("environment_dir", os.path.join(HEAT_ETC, "environment.d"))
        cfg.CONF.set_override("template_dir", os.path.join(HEAT_ETC, "templates"))
        resources._environment = None
        resources.initialise()
        super().setUp()
        resources.global_env().register_class(TYPE, bde.BdeCluster)
        self.patchobject(neutron.NeutronClientPlugin, "find_resourceid_by_name_or_id", side_effect=self.resolve)
        self.patchobject(bde.BdeCluster, "_access", return_value=json.dumps({"token": "t"}))
        self.steps = []  # (action, answer) the scripted engine gives, in order
        self.patchobject(bde._engine, "step", side_effect=self.step)
        # BDE's lists are read by the engine's other remote entry point (world tests cover it).
        self.patchobject(bde._engine, "validate_bde", return_value=None)

    @staticmethod
    def resolve(entity, name_or_id, *args, **kwargs):
        return {"data-net": NETWORK_ID, "old-net": NETWORK_ID}.get(name_or_id, name_or_id)

    def step(self, action, spec_json, state_json, access_json, **kwargs):
        expected, answer = self.steps.pop(0)
        assert action == expected, (action, expected)
        self.last_spec = json.loads(spec_json)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def cluster(self, template=TEMPLATE, **changes):
        tmpl = template_format.parse(template)
        tmpl["resources"]["cluster"]["properties"].update(changes)
        self.stack = utils.parse_stack(tmpl)
        self.stack.store()
        return self.stack["cluster"]

    # -- the schema as Heat reads it ------------------------------------------------

    def test_every_property_and_attribute_has_a_description_and_a_valid_schema(self):
        for name, schema in bde.BdeCluster.properties_schema.items():
            schema.validate()  # a default that breaks its own constraints fails here
            self.assertTrue(schema.description, name)
        for name, schema in bde.BdeCluster.attributes_schema.items():
            self.assertTrue(schema.description, name)

    def test_heats_bounds_and_defaults_are_the_engines_and_every_bound_of_heat_is_one(self):
        from bde_heat import _engine

        published = {}  # field path -> Heat's schema as `resource-type show` prints it

        def walk(prefix, schemas):
            for name, schema in schemas.items():
                field = f"{prefix}{name}"
                published[field] = schema
                nested = schema.get("schema") or {}
                if schema["type"] == "list" and "*" in nested:
                    nested = nested["*"].get("schema") or {}
                walk(f"{field}.", nested)

        walk("", {n: dict(s) for n, s in bde.BdeCluster.properties_schema.items()})
        bounds = {k: v for k, v in ((f, s.get("constraints", [])) for f, s in published.items()) if v}
        kinds = ("range", "length", "allowed_values")
        heat_bounded = {f for f, cs in bounds.items() if any(k in c for c in cs for k in kinds)}
        limits = json.loads(_engine.limits())
        self.assertEqual(heat_bounded, set(limits), "a bound in Heat's schema the engine does not check, or back")
        for field, limit in limits.items():
            (shown,) = [c for c in bounds[field] if any(k in c for k in kinds)]
            if "allowed" in limit:
                self.assertEqual(shown["allowed_values"], limit["allowed"], field)
            elif "length" in limit:
                self.assertEqual(shown["length"], limit["length"], field)
            else:
                want = {k: limit[k] for k in ("min", "max") if limit[k] is not None}
                self.assertEqual(shown["range"], want, field)
        for field, default in json.loads(_engine.defaults()).items():
            self.assertEqual(published[field]["default"], default, field)

    def test_the_template_heat_generates_for_the_type_omits_the_hidden_2015_alias(self):
        generated = bde.BdeCluster.resource_to_template(TYPE, template_type="hot")
        parameters = generated["parameters"]
        for name in ("network", "cluster_name", "node_groups", "dhcp_grace_seconds"):
            self.assertIn(name, parameters)
        self.assertNotIn("cluster_net", parameters)

    def test_what_an_update_may_change_in_place(self):
        in_place = {n for n, s in bde.BdeCluster.properties_schema.items() if s.update_allowed}
        for name in (
            "password",
            "ca_file",
            "insecure",
            "dhcp_grace_seconds",
            "security_group",
            "node_groups",
            "static_range",
        ):
            self.assertIn(name, in_place)
        for name in ("distro", "network", "subnet", "cluster_name", "bde_endpoint", "ip_mode"):
            self.assertNotIn(name, in_place)

    def test_storage_ha_and_configuration_reach_the_engine_as_the_template_nests_them(self):
        tmpl = template_format.parse(TEMPLATE)
        properties = tmpl["resources"]["cluster"]["properties"]
        properties["configuration"] = {"hadoop": {"core-site.xml": {"io.file.buffer.size": 65536}}}
        group = properties["node_groups"][1]
        group.update(storage={"type": "LOCAL", "size_gb": 50}, ha="on")
        stack = utils.parse_stack(tmpl)  # held: a resource keeps only a weak reference to its stack
        rsrc = stack["cluster"]
        spec = json.loads(rsrc._spec())
        self.assertEqual(properties["configuration"], spec["configuration"])
        worker = spec["node_groups"][1]
        self.assertEqual({"type": "LOCAL", "size_gb": 50}, worker["storage"], "keys left empty are left out")
        self.assertEqual("on", worker["ha"])
        rsrc.validate()  # the engine's own check accepts it
        group["storage"] = {"type": "LOCAL"}
        group["ha"] = "ft"
        stack = utils.parse_stack(tmpl)
        err = self.assertRaises(exception.StackValidationFailed, stack["cluster"].validate)
        self.assertIn("node_groups[1].storage.type", str(err))

    def test_a_bad_property_is_refused_at_validate_naming_it(self):
        rsrc = self.cluster(cluster_name="has-a-dash")
        err = self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        self.assertIn("cluster_name", str(err))

    def test_a_bde_spec_file_given_as_text_merges_under_the_templates_keys(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "bde-spec", "hadoop-yarn.json")) as f:
            text = f.read()  # what {get_file: hadoop-yarn.json} gives: text, with its // comments
        tmpl = template_format.parse(TEMPLATE)
        properties = tmpl["resources"]["cluster"]["properties"]
        del properties["node_groups"]
        worker = {"name": "worker", "roles": ["hadoop_datanode", "hadoop_nodemanager"], "instance_num": 4}
        properties.update(cluster_spec=text, node_groups=[worker])
        stack = utils.parse_stack(tmpl)
        rsrc = stack["cluster"]
        rsrc.validate()
        self.steps = [("create", (state("requested", phase="ready"), True))]
        scheduler.TaskRunner(rsrc.create)()
        self.assertEqual(text, self.last_spec["cluster_spec"], "the engine merges it, step by step alike")

    def test_a_bde_key_bde_heat_does_not_take_is_refused_at_validate_by_its_path(self):
        bad = {"nodeGroups": [{"name": "w", "roles": ["r"], "latencySensitivity": "HIGH"}]}
        rsrc = self.cluster(cluster_spec=json.dumps(bad))
        err = self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        self.assertIn("cluster_spec.nodeGroups[0].latencySensitivity", str(err))

    def test_dns_type_and_external_hdfs_are_checked_by_heat_and_the_engine(self):
        rsrc = self.cluster(dns_type="FANCY")
        self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        rsrc = self.cluster(external_hdfs="hdfs://nn.example:8020")
        err = self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        self.assertIn("node_groups[0].roles", str(err), "its own namenode is refused")

    def test_ip_mode_and_static_range_are_checked_and_reach_the_engine(self):
        rsrc = self.cluster(ip_mode="manual")
        self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        rsrc = self.cluster(static_range="10.0.0.200-10.0.0.220")
        err = self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        self.assertIn("static_range", str(err), "a range is only for static addresses")
        rsrc = self.cluster(ip_mode="static", static_range="10.0.0.200-10.0.0.220")
        self.steps = [("create", (state("requested", phase="ready"), True))]
        scheduler.TaskRunner(rsrc.create)()
        self.assertEqual(
            ("static", "10.0.0.200-10.0.0.220"), (self.last_spec["ip_mode"], self.last_spec["static_range"])
        )
        hdfs = {"HDFS_NETWORK": {"network": "hdfs-net", "static_range": "10.1.0.10-10.1.0.20"}}
        rsrc = self.cluster(networks=hdfs)
        err = self.assertRaises(exception.StackValidationFailed, rsrc.validate)
        self.assertIn("networks.HDFS_NETWORK.static_range", str(err), "a traffic range is only for static too")
        rsrc = self.cluster(ip_mode="static", networks=hdfs)
        self.steps = [("create", (state("requested", phase="ready"), True))]
        scheduler.TaskRunner(rsrc.create)()
        self.assertEqual("10.1.0.10-10.1.0.20", self.last_spec["networks"]["HDFS_NETWORK"]["static_range"])

    def test_a_cluster_spec_that_names_the_cluster_makes_a_fixed_change_refused_not_a_replacement(self):
        tmpl = template_format.parse(TEMPLATE)
        properties = tmpl["resources"]["cluster"]["properties"]
        del properties["cluster_name"]
        properties["cluster_spec"] = '{"name": "from_spec_file"}'
        before = utils.parse_stack(tmpl)["cluster"]
        properties["distro"] = "cdh"
        after = utils.parse_stack(tmpl)["cluster"].properties
        self.assertRaises(
            exception.NotSupported, before.needs_replace_with_prop_diff, {"distro"}, after, before.properties
        )

    # -- translation --------------------------------------------------------------------

    def test_the_2015_cluster_net_becomes_network_resolved_to_its_id(self):
        tmpl = TEMPLATE.replace("      network: data-net\n", "      cluster_net: old-net\n")
        rsrc = self.cluster(tmpl)
        self.steps = [("create", (state("requested", phase="ready"), True))]
        scheduler.TaskRunner(rsrc.create)()
        self.assertEqual(NETWORK_ID, self.last_spec["network"])
        self.assertNotIn("cluster_net", self.last_spec)

    def test_the_operators_default_resource_pool_applies_when_the_template_gives_none(self):
        self.assertNotIn("cluster_rp", json.loads(self.cluster()._spec()))
        cfg.CONF.set_override("default_resource_pool", "openstackRP", group="bde_heat")
        self.assertEqual("openstackRP", json.loads(self.cluster()._spec())["cluster_rp"])
        self.assertEqual("gold", json.loads(self.cluster(cluster_rp="gold")._spec())["cluster_rp"])

    # -- engine answers become Heat's statuses ------------------------------------------

    def test_create_polls_the_engine_until_done_and_the_physical_id_comes_with_the_claim(self):
        rsrc = self.cluster()
        self.steps = [
            ("create", (state(phase="find_portgroup"), False)),
            ("create", (state("intended", phase="create_cluster"), False)),
            ("create", (state("requested", phase="wire"), False)),
            ("create", (state("requested", phase="ready"), True)),
        ]
        rsrc.state_set(rsrc.CREATE, rsrc.IN_PROGRESS)  # as Heat does before handle_create
        rsrc.translate_properties(rsrc.properties)
        rsrc.handle_create()
        self.assertFalse(rsrc.check_create_complete(None))
        self.assertIsNone(rsrc.resource_id, "no physical id before the cluster is claimed")
        self.assertFalse(rsrc.check_create_complete(None))
        self.assertEqual("analytics", rsrc.resource_id)
        self.assertEqual(NETWORK_ID, self.last_spec["network"], "the engine gets the resolved id")
        self.assertFalse(rsrc.check_create_complete(None))
        self.assertTrue(rsrc.check_create_complete(None))
        self.assertEqual([], self.steps)

    def test_a_failed_bde_task_fails_the_create_with_bdes_reason_and_keeps_the_state(self):
        cfg.CONF.set_override("action_retry_limit", 0)  # else Heat deletes and creates again
        rsrc = self.cluster()
        failure = errors.TaskFailedError("BDE: task 7 failed: no datastore fits")
        for name, value in {"fields": [], "service": "BDE", "vendor_status": None, "vendor_code": None}.items():
            setattr(failure, name, value)
        failure.state = state("requested", phase="create_cluster")
        self.steps = [("create", failure)]
        err = self.assertRaises(exception.ResourceFailure, scheduler.TaskRunner(rsrc.create))
        self.assertIn("no datastore fits", str(err))
        self.assertEqual((rsrc.CREATE, rsrc.FAILED), rsrc.state)
        self.assertEqual("analytics", rsrc.resource_id, "what the failed step made stays the resource's")

    def test_suspend_and_resume_stop_and_start_the_cluster(self):
        rsrc = self.cluster()
        self.steps = [("create", (state("requested", phase="ready"), True))]
        scheduler.TaskRunner(rsrc.create)()
        self.steps = [("stop", (state("requested", phase="ready"), False)), ("stop", (state("requested"), True))]
        scheduler.TaskRunner(rsrc.suspend)()
        self.assertEqual((rsrc.SUSPEND, rsrc.COMPLETE), rsrc.state)
        self.steps = [("start", (state("requested"), True))]
        scheduler.TaskRunner(rsrc.resume)()
        self.assertEqual((rsrc.RESUME, rsrc.COMPLETE), rsrc.state)

    def test_delete_of_a_resource_that_made_nothing_asks_nothing_of_the_engine(self):
        cfg.CONF.set_override("action_retry_limit", 0)
        rsrc = self.cluster()
        self.steps = [("create", errors.InvalidInputError("cluster_name: taken"))]
        for name, value in {"fields": [], "service": None, "vendor_status": None, "vendor_code": None}.items():
            setattr(self.steps[0][1], name, value)
        self.steps[0][1].state = None
        self.assertRaises(exception.ResourceFailure, scheduler.TaskRunner(rsrc.create))
        scheduler.TaskRunner(rsrc.delete)()  # a scripted step here would fail the test
        self.assertEqual((rsrc.DELETE, rsrc.COMPLETE), rsrc.state)

    # -- updates --------------------------------------------------------------------------

    def test_a_changed_count_is_an_update_in_place_and_a_changed_distro_is_refused_naming_it(self):
        rsrc = self.cluster()
        self.steps = [("create", (state("requested", phase="ready"), True))]
        scheduler.TaskRunner(rsrc.create)()
        before = rsrc.properties
        tmpl = template_format.parse(TEMPLATE)
        tmpl["resources"]["cluster"]["properties"]["node_groups"][1]["instance_num"] = 3
        after = utils.parse_stack(tmpl)["cluster"].properties
        self.assertFalse(rsrc.needs_replace_with_prop_diff({"node_groups"}, after, before))
        tmpl["resources"]["cluster"]["properties"]["distro"] = "cdh"
        after = utils.parse_stack(tmpl)["cluster"].properties
        err = self.assertRaises(
            exception.NotSupported, rsrc.needs_replace_with_prop_diff, {"node_groups", "distro"}, after, before
        )
        self.assertIn("property distro", str(err))
        self.assertNotIn("property node_groups", str(err))

    def test_cpus_memory_and_a_new_group_change_in_place_and_a_dropped_group_is_refused(self):
        rsrc = self.cluster()
        before = rsrc.properties

        def after(change):
            tmpl = template_format.parse(TEMPLATE)
            change(tmpl["resources"]["cluster"]["properties"]["node_groups"])
            return utils.parse_stack(tmpl)["cluster"].properties

        def scaled(groups):
            groups[1].update(memory_mb=4096, cpu_num=2)

        def added(groups):
            groups.append({"name": "client", "roles": ["hadoop_client"], "instance_num": 1})

        def retyped(groups):
            groups[1].update(instance_type="LARGE")

        def reconfigured(groups):
            groups[1].update(configuration={"hadoop": {"hdfs-site.xml": {"dfs.replication": 2}}})

        for change in (scaled, added, retyped, reconfigured):
            self.assertFalse(rsrc.needs_replace_with_prop_diff({"node_groups"}, after(change), before))
        for change in (
            # "worker" dropped (its datanodes moved to a group of a new name: HDFS stays whole)
            lambda g: g[1].update(name="data"),
            lambda g: g[1].update(roles=["hadoop_datanode", "hadoop_client"]),
            lambda g: g[1].update(storage={"type": "SHARED"}),
        ):
            err = self.assertRaises(
                exception.NotSupported, rsrc.needs_replace_with_prop_diff, {"node_groups"}, after(change), before
            )
            self.assertIn("property node_groups", str(err))

    def test_a_new_count_for_a_zookeeper_group_is_refused_before_the_update_naming_group_and_rule(self):
        tmpl = template_format.parse(TEMPLATE)
        groups = tmpl["resources"]["cluster"]["properties"]["node_groups"]
        groups.append({"name": "zk", "roles": ["zookeeper"], "instance_num": 3})
        stack = utils.parse_stack(tmpl)
        rsrc = stack["cluster"]
        groups[1]["instance_num"] = 5
        after = utils.parse_stack(tmpl)["cluster"].properties
        self.assertFalse(rsrc.needs_replace_with_prop_diff({"node_groups"}, after, rsrc.properties), "workers grow")
        groups[2]["instance_num"] = 5
        after = utils.parse_stack(tmpl)["cluster"].properties
        err = self.assertRaises(
            exception.StackValidationFailed, rsrc.needs_replace_with_prop_diff, {"node_groups"}, after, rsrc.properties
        )
        self.assertIn("node_groups[2].instance_num", str(err))
        self.assertIn("zookeeper", str(err))

    def test_without_a_cluster_name_a_fixed_change_replaces_the_resource(self):
        tmpl = template_format.parse(TEMPLATE)
        del tmpl["resources"]["cluster"]["properties"]["cluster_name"]
        rsrc = utils.parse_stack(tmpl)["cluster"]
        tmpl["resources"]["cluster"]["properties"]["distro"] = "cdh"
        after = utils.parse_stack(tmpl)["cluster"].properties
        self.assertTrue(rsrc.needs_replace_with_prop_diff({"distro"}, after, rsrc.properties))

    # -- attributes from the real engine's report -----------------------------------------

    def test_attributes_come_from_a_live_read_and_from_the_stored_state_when_it_fails(self):
        rsrc = self.cluster()

        def node(group, ip, mac):
            return {"group": group, "ip": ip, "status": "Service Ready", "macs": [mac]}

        nodes = {
            "analytics-master-0": node("master", "10.0.0.5", "00:50:56:00:00:01"),
            "analytics-worker-0": node("worker", "10.0.0.6", "00:50:56:00:00:02"),
        }
        self.steps = [("create", (state("requested", phase="ready", nodes=nodes), True))]
        scheduler.TaskRunner(rsrc.create)()
        stored = json.loads(bde._engine.report(rsrc._spec(), rsrc._state()))
        live = json.loads(json.dumps(stored))  # what the live read adds: the port ids
        for n, port in zip(live["nodes"], ("p-m0", "p-w0"), strict=True):
            n["port_id"] = port
        reads = self.patchobject(bde._engine, "live_report", return_value=json.dumps(live))
        groups = rsrc.FnGetAtt("groups")
        self.assertEqual({"addresses": ["10.0.0.5"], "port_ids": ["p-m0"]}, groups["master"])
        self.assertEqual(["10.0.0.5", "10.0.0.6"], sorted(rsrc.FnGetAtt("ips")))
        self.assertEqual(1, reads.call_count, "one live read serves the attributes of one show")
        # `resource show --with-attr show`: Heat adds attributes into the dict `show` gives.
        shown = heat_api.format_resource_attributes(rsrc, with_attr=["show"])
        json.dumps(shown)  # no cycle (RPC serializes it)
        self.assertEqual(["10.0.0.5", "10.0.0.6"], sorted(n["ip"] for n in shown["show"]["nodes"]))
        # BDE or Neutron cannot answer: the stored state still gives the addresses.
        rsrc._live = None
        reads.side_effect = errors.UnavailableError("BDE: connection refused")
        self.assertEqual(["10.0.0.5", "10.0.0.6"], sorted(n["address"] for n in rsrc.FnGetAtt("nodes")))


def test_the_resource_type_is_registered_by_the_plugins_mapping():
    from bde_heat.heat_plugin import bde_cluster

    assert bde_cluster.resource_mapping() == {TYPE: bde.BdeCluster}
    assert issubclass(bde.BdeCluster, resource.Resource)
