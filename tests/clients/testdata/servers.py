"""Create and delete a server through hcloud-sim with python hcloud, as a user script would.

Works with Debian's python3-hcloud 1.18 (run with /usr/bin/python3) and with hcloud-python 2.x
(the copy the official collection vendors, on PYTHONPATH). Reads HCLOUD_ENDPOINT and
HCLOUD_TOKEN; argv: NAME SERVER_TYPE IMAGE LOCATION UNSOLD_LOCATION, where SERVER_TYPE is sold
in LOCATION but not in UNSOLD_LOCATION. Prints one JSON object with what each step saw; any
unexpected exception is a traceback on stderr and exit 1.
"""
import json
import os
import sys

from hcloud import Client, APIException
from hcloud.actions.domain import Action
from hcloud.images.domain import Image


def wait(action):
    action.wait_until_finished(max_retries=200)
    action.reload()
    if action.status != Action.STATUS_SUCCESS:
        raise RuntimeError("action %d (%s) ended %s" % (action.id, action.command, action.status))
    return action.command


def main():
    name, type_name, image_name, location_name, unsold = sys.argv[1:6]
    client = Client(
        token=os.environ["HCLOUD_TOKEN"],
        api_endpoint=os.environ["HCLOUD_ENDPOINT"],
        application_name="kbv3-clients-test",
        poll_interval=0.05,
    )
    out = {}

    st = client.server_types.get_by_name(type_name)
    out["server_type"] = {"id": st.id, "name": st.name, "cores": st.cores,
                          "architecture": getattr(st, "architecture", None),
                          "price_locations": sorted(p["location"] for p in st.prices)}
    if hasattr(client.images, "get_by_name_and_architecture"):
        image = client.images.get_by_name_and_architecture(image_name, st.architecture)
        out["image"] = {"id": image.id, "name": image.name, "architecture": image.architecture}
    location = client.locations.get_by_name(location_name)

    resp = client.servers.create(name, server_type=st, image=Image(name=image_name),
                                 location=location, labels={"purpose": "test"})
    out["create"] = {
        "status": resp.server.status,
        "action": resp.action.command,
        "next_actions": [a.command for a in resp.next_actions],
        "root_password": bool(resp.root_password),
        "ipv4": resp.server.public_net.ipv4.ip,
        "ipv6": resp.server.public_net.ipv6.ip,
    }
    out["waited"] = [wait(resp.action)] + [wait(a) for a in resp.next_actions]

    server = client.servers.get_by_name(name)
    out["server"] = {
        "id": server.id, "status": server.status, "image": server.image.name,
        "server_type": server.server_type.name, "location": server.datacenter.location.name,
        "labels": server.labels, "delete_protection": server.protection["delete"],
    }

    vol = client.volumes.create(size=10, name=name + "-data", server=server)
    for a in [vol.action] + vol.next_actions:
        wait(a)
    server.reload()
    out["volumes_before_delete"] = len(server.volumes)

    try:
        client.servers.create(name + "-x", server_type=st, image=Image(name=image_name),
                              location=client.locations.get_by_name(unsold))
        out["unsold"] = None
    except APIException as e:
        out["unsold"] = {"code": e.code, "message": e.message}

    out["delete"] = wait(server.delete())
    out["after_delete"] = client.servers.get_by_name(name) is None
    out["volume_server_after_delete"] = client.volumes.get_by_name(name + "-data").server is not None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
