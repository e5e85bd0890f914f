"""Seed a freshly started Keystone with what the test world needs.

Reads one JSON object on stdin (so no password is on a command line):
  keystone_url, admin_password (the bootstrap admin), region,
  project, users: [{name, password, role}], services: [{name, type, url}].
Creates, idempotently: the project, each user with its role on the project,
the `service` project, and a catalog entry (public, internal, admin) per service.
"""

import json
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

# The catalog holds Keystone's unversioned URL; discovery finds /v3.
IDENTITY = {"service_type": "identity", "version": (3, 0)}


def main() -> None:
    spec = json.load(sys.stdin)
    auth = v3.Password(
        auth_url=spec["keystone_url"] + "/v3",
        username="admin",
        password=spec["admin_password"],
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
    )
    ks = Keystone(session.Session(auth=auth, timeout=30))
    project = ks.ensure("projects", {"name": spec["project"], "domain_id": "default"})
    service_project = ks.ensure("projects", {"name": "service", "domain_id": "default"})
    for user in spec["users"]:
        target = service_project if user.get("service") else project
        found = ks.ensure(
            "users",
            {"name": user["name"], "domain_id": "default", "password": user["password"]},
            lookup={"name": user["name"]},
        )
        role = ks.ensure("roles", {"name": user["role"]})
        ks.put(f"/projects/{target['id']}/users/{found['id']}/roles/{role['id']}")
    for svc in spec["services"]:
        service = ks.ensure("services", {"name": svc["name"], "type": svc["type"]}, lookup={"type": svc["type"]})
        for interface in ("public", "internal", "admin"):
            ks.ensure(
                "endpoints",
                {"service_id": service["id"], "interface": interface, "url": svc["url"], "region_id": spec["region"]},
                lookup={"service_id": service["id"], "interface": interface},
            )


class Keystone:
    """The few identity v3 calls seeding needs, over a keystoneauth session."""

    def __init__(self, sess: session.Session) -> None:
        self.sess = sess

    def ensure(self, collection: str, body: dict, lookup: dict | None = None) -> dict:
        query = lookup if lookup is not None else {"name": body["name"]}
        singular = collection[:-1]
        found = self.sess.get(f"/{collection}", params=query, endpoint_filter=IDENTITY).json()
        if found[collection]:
            return found[collection][0]
        created = self.sess.post(f"/{collection}", json={singular: body}, endpoint_filter=IDENTITY).json()
        return created[singular]

    def put(self, path: str) -> None:
        self.sess.put(path, endpoint_filter=IDENTITY)


if __name__ == "__main__":
    main()
