"""The python hcloud 2.x that hetzner.hcloud 5.x vendors, driven against hcloud-sim.

Run by tests/modern_python_test.go with /usr/bin/python3, PYTHONPATH at the modern toolchain's
dist-packages, HCLOUD_ENDPOINT and HCLOUD_TOKEN at the simulator. `volumes` runs the volume
lifecycle on the small fleet of fleet.json, `servers` an Arm server's (type and image looked
up, created, a volume made on it, deleted); each step waits for its
actions. The last stdout line is one JSON object: what each step saw, for the Go test to check
against the simulator's state.
"""

from __future__ import annotations

import json
import os
import sys

from ansible_collections.hetzner.hcloud.plugins.module_utils.vendor.hcloud import APIException, Client
from ansible_collections.hetzner.hcloud.plugins.module_utils.vendor.hcloud import __version__ as hcloud_version
from ansible_collections.hetzner.hcloud.plugins.module_utils.vendor.hcloud.locations import Location


def client() -> Client:
    return Client(
        token=os.environ["HCLOUD_TOKEN"],
        api_endpoint=os.environ["HCLOUD_ENDPOINT"],
        application_name="kbv3-modern-test",
        poll_interval=0.2,
        poll_max_retries=300,
    )


def volume(v) -> dict:
    v.reload()
    return {
        "id": v.id,
        "name": v.name,
        "size": v.size,
        "location": v.location.name,
        "server": v.server.name if v.server is not None else None,
        "labels": v.labels,
        "protected": v.protection["delete"],
        "format": v.format,
        "status": v.status,
    }


def action(a) -> dict:
    return {"id": a.id, "command": a.command, "status": a.status, "progress": a.progress}


def wait(a) -> dict:
    a.wait_until_finished()
    return action(a)


def refused(fn) -> dict | None:
    try:
        fn()
    except APIException as e:
        return {"code": e.code, "message": e.message}
    return None


def volumes(c: Client) -> dict:
    out: dict = {"version": hcloud_version}
    out["servers"] = sorted(s.name for s in c.servers.get_all())
    a = c.servers.get_by_name("modern-a")
    b = c.servers.get_by_name("modern-b")
    out["server_a"] = {
        "id": a.id,
        "location": a.datacenter.location.name,
        "server_type": a.server_type.name,
        "status": a.status,
        "volumes": [v.id for v in a.volumes],
    }
    out["locations"] = sorted(loc.name for loc in c.locations.get_all())

    # By location, as a Location of a name only: the library sends its name.
    resp = c.volumes.create(size=10, name="py-loc", location=Location(name="fsn1"), labels={"suite": "py"}, format="xfs")
    out["create_location"] = {"action": wait(resp.action), "next_actions": [wait(n) for n in resp.next_actions]}
    loc = resp.volume
    out["create_location"]["volume"] = volume(loc)

    resp = c.volumes.create(size=11, name="py-srv", server=a, labels={"suite": "py"}, automount=False)
    out["create_server"] = {"action": wait(resp.action), "next_actions": [wait(n) for n in resp.next_actions]}
    srv = resp.volume
    out["create_server"]["volume"] = volume(srv)

    out["attach"] = {"action": wait(loc.attach(b, automount=False)), "volume": volume(loc)}
    out["attach_attached"] = refused(lambda: loc.attach(a))
    out["resize"] = {"action": wait(loc.resize(25)), "volume": volume(loc)}
    loc = loc.update(name="py-renamed", labels={"suite": "py", "stage": "updated"})
    out["update"] = volume(loc)
    out["protect"] = {"action": wait(loc.change_protection(delete=True)), "volume": volume(loc)}
    out["delete_protected"] = refused(loc.delete)
    out["unprotect"] = {"action": wait(loc.change_protection(delete=False)), "volume": volume(loc)}
    out["delete_attached"] = refused(loc.delete)
    out["detach"] = {"action": wait(loc.detach()), "volume": volume(loc)}
    out["by_selector"] = sorted(v.name for v in c.volumes.get_all(label_selector="suite=py"))
    out["actions"] = sorted(x.command for x in loc.get_actions())
    out["delete"] = loc.delete()
    out["after_delete"] = c.volumes.get_by_name("py-renamed") is None
    out["detach_srv"] = {"action": wait(srv.detach()), "volume": volume(srv)}
    out["delete_srv"] = srv.delete()
    out["missing"] = refused(lambda: c.volumes.get_by_id(loc.id))
    return out


def server(s) -> dict:
    s.reload()
    return {
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "server_type": s.server_type.name,
        "architecture": s.server_type.architecture,
        "image": s.image.name if s.image is not None else None,
        "image_architecture": s.image.architecture if s.image is not None else None,
        "location": s.datacenter.location.name,
        "labels": s.labels,
        "volumes": [v.id for v in s.volumes],
        "ipv4": s.public_net.ipv4.ip if s.public_net.ipv4 is not None else None,
    }


def servers(c: Client) -> dict:
    out: dict = {"version": hcloud_version}
    cax = c.server_types.get_by_name("cax11")
    out["server_type"] = {
        "name": cax.name,
        "architecture": cax.architecture,
        "priced_in": sorted(p["location"] for p in (cax.prices or [])),
    }
    image = c.images.get_by_name_and_architecture("debian-12", "arm")
    out["image"] = {"id": image.id, "name": image.name, "architecture": image.architecture, "type": image.type}

    resp = c.servers.create(
        name="py-arm", server_type=cax, image=image, location=Location(name="hel1"), labels={"suite": "py"}
    )
    out["create"] = {
        "status": resp.server.status,
        "root_password": bool(resp.root_password),
        "action": wait(resp.action),
        "next_actions": [wait(n) for n in resp.next_actions],
    }
    srv = resp.server
    out["create"]["server"] = server(srv)
    out["duplicate"] = refused(
        lambda: c.servers.create(name="py-arm", server_type=cax, image=image, location=Location(name="hel1"))
    )

    v = c.volumes.create(size=10, name="py-on-arm", server=srv, automount=False)
    wait(v.action)
    for n in v.next_actions:
        wait(n)
    out["with_volume"] = server(srv)
    out["delete"] = {"action": wait(srv.delete())}
    out["after_delete"] = c.servers.get_by_name("py-arm") is None
    out["volume_after"] = volume(v.volume)
    return out


def main() -> None:
    c = client()
    steps = {"volumes": volumes, "servers": servers}
    print(json.dumps(steps[sys.argv[1]](c)))


if __name__ == "__main__":
    main()
