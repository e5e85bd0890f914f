"""The real Heat engine, in process, loading plugins through its own loader.

Heat 27 runs on oslo.service's threading backend; it must be chosen before any
Heat engine module is imported, so import this module before `heat.engine`.
Stacks run on the legacy (in-process) path with an in-memory database; the
only stand-in is Heat's own FakeKeystoneClient for the trusts Heat stores at
stack create. Everything else (template parsing, property validation, the
resource lifecycle, the scheduler's polling) is Heat's own code.
"""

import os
import sys
import uuid
from contextlib import contextmanager
from unittest import mock

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except backend.exceptions.BackendAlreadySelected:
    pass

from oslo_config import cfg  # noqa: E402

HEAT_ETC = os.path.join(sys.prefix, "etc", "heat")


@contextmanager
def heat_engine(plugin_dirs, context=None, sleep=False):
    """Configures Heat, loads `plugin_dirs` with the real loader, and yields an Engine.

    `context` is a function making the stacks' request context (default: Heat's
    dummy one, which reaches no service); `sleep` keeps Heat's one-second
    pause between polls, as a plugin that calls real services needs.
    """
    from heat.common import config as heat_config  # noqa: F401  (registers Heat's options)
    from heat.common import messaging
    from heat.engine import resources, scheduler
    from heat.engine.clients.os.keystone import KeystoneClientPlugin, fake_keystoneclient
    from heat.tests import utils

    cfg.CONF([], project="heat")
    cfg.CONF.set_override("plugin_dirs", list(plugin_dirs))
    cfg.CONF.set_override("environment_dir", os.path.join(HEAT_ETC, "environment.d"))
    cfg.CONF.set_override("template_dir", os.path.join(HEAT_ETC, "templates"))
    utils.setup_dummy_db()
    messaging.setup("fake://", optional=True)
    resources._environment = None  # load plugin_dirs anew: another test may have loaded other ones
    resources.initialise()
    scheduler.ENABLE_SLEEP = sleep
    with mock.patch.object(KeystoneClientPlugin, "_create", return_value=fake_keystoneclient.FakeKeystoneClient()):
        try:
            yield Engine(context)
        finally:
            scheduler.ENABLE_SLEEP = True
            utils.reset_dummy_db()
            messaging.cleanup()


class Engine:
    """Creates and drives stacks the way heat-engine's legacy path does."""

    def __init__(self, make_context=None):
        from heat.tests import utils

        self.make_context = make_context or utils.dummy_context
        self.context = self.make_context()

    @staticmethod
    def template(template_text, params=None):
        """A template with its environment, as the API parses one."""
        from heat.common import template_format
        from heat.engine import environment, template

        parsed = template_format.parse(template_text)
        return template.Template(parsed, env=environment.Environment(params or {}))

    def stack(self, template_text, params=None, name=None):
        from heat.engine import stack

        tmpl = self.template(template_text, params)
        stk = stack.Stack(self.context, name or f"s{uuid.uuid4().hex[:8]}", tmpl)
        stk.validate()
        stk.store()
        return stk

    def act(self, stk, action):
        """Runs `create`, `suspend`, `resume` or `check` on the stack fresh from the
        database, and writes its final state as heat-engine does when it releases
        the stack lock (the legacy path defers that write); returns the stack."""
        current = self.load(stk)
        getattr(current, action)()
        current._persist_state()
        return current

    def load(self, stk):
        """The stack fresh from the database, as heat-engine loads it for each request
        (with a new request context: a context's database session caches the rows it read)."""
        from heat.engine import stack

        self.context = self.make_context()
        return stack.Stack.load(self.context, stack_id=stk.id)

    def update(self, stk, template_text, params=None):
        """Updates the stack to a new template, as `stack update` does; returns it reloaded."""
        from heat.engine import stack

        tmpl = self.template(template_text, params)
        current = self.load(stk)
        current.update(stack.Stack(self.context, stk.name, tmpl))
        return self.load(stk)

    def outputs(self, stk):
        """Reloads the stack and formats its outputs as `EngineService.show_stack` does."""
        from heat.engine import api, stack, stk_defn

        fresh = stack.Stack.load(self.context, stack_id=stk.id)
        for res in fresh._explicit_dependencies():
            node_data = res.node_data(for_resources=False, for_outputs=True)
            stk_defn.update_resource_data(fresh.defn, res.name, node_data)
        formatted = api.format_stack(fresh)["outputs"]
        errors = {o["output_key"]: o["output_error"] for o in formatted if "output_error" in o}
        if errors:
            raise AssertionError(f"outputs failed to resolve: {errors}")
        return {o["output_key"]: o.get("output_value") for o in formatted}

    def events(self, stk):
        """Every event of the stack, as the API lists them."""
        from heat.objects import event as event_object

        return event_object.Event.get_all_by_stack(self.context, stk.id)

    def resource_types(self):
        from heat.engine import resources

        return resources.global_env().get_types()


def member_context(cloud):
    """A real request context of the world's project member (from clouds.yaml), as heat-api makes one."""
    from heat.common import context
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = cloud["auth"]
    password = v3.Password(
        auth_url=auth["auth_url"],
        username=auth["username"],
        password=auth["password"],
        project_name=auth["project_name"],
        user_domain_id=auth["user_domain_id"],
        project_domain_id=auth["project_domain_id"],
    )
    sess = session.Session(auth=password)
    return context.RequestContext(
        username=auth["username"],
        password=auth["password"],
        auth_url=auth["auth_url"],
        user_id=password.get_user_id(sess),
        project_id=password.get_project_id(sess),
        project_name=auth["project_name"],
        user_domain_id=auth["user_domain_id"],
        project_domain_id=auth["project_domain_id"],
        region_name=cloud.get("region_name"),
        roles=["member"],
        is_admin=False,
    )
