"""Drive hcloud-sim with python3-hcloud (Debian's 1.18) as a user script would.

Run with /usr/bin/python3 (the Debian interpreter that has python3-hcloud). Reads
HCLOUD_ENDPOINT and HCLOUD_TOKEN; argv: NEW_VOLUME LOCATION SERVER OTHER_SERVER, where SERVER
is in LOCATION and OTHER_SERVER is not. Prints one JSON object with what each step saw; any
unexpected exception is a traceback on stderr and exit 1.
"""
import json
import os
import sys

from hcloud import Client, APIException
from hcloud.actions.domain import Action


def volume_dict(v):
    return {
        "id": v.id,
        "name": v.name,
        "size": v.size,
        "status": v.status,
        "location": v.location.name,
        "server_id": v.server.id if v.server is not None else None,
    }


def action_dict(a):
    return {"id": a.id, "command": a.command, "status": a.status, "progress": a.progress}


def wait(action):
    action.wait_until_finished(max_retries=200)
    action.reload()
    if action.status != Action.STATUS_SUCCESS:
        raise RuntimeError("action %d ended %s" % (action.id, action.status))
    return action_dict(action)


def main():
    name, location_name, server_name, other_server_name = sys.argv[1:5]
    client = Client(
        token=os.environ["HCLOUD_TOKEN"],
        api_endpoint=os.environ["HCLOUD_ENDPOINT"],
        application_name="kbv3-clients-test",
        poll_interval=0.05,
    )
    out = {}

    volumes = client.volumes.get_all()
    out["list"] = {"count": len(volumes), "names": sorted(v.name for v in volumes)}
    minio = client.volumes.get_by_name("vol-minio-01")
    # server.name costs a GET /servers/{id}: the lazy load python3-hcloud does.
    out["minio"] = dict(volume_dict(minio), server_name=minio.server.name)

    location = client.locations.get_by_name(location_name)
    created = client.volumes.create(size=10, name=name, location=location, format="ext4")
    out["create"] = {
        "volume": volume_dict(created.volume),
        "action": wait(created.action),
        "next_actions": len(created.next_actions),
        "after": volume_dict(client.volumes.get_by_id(created.volume.id)),
    }
    volume = client.volumes.get_by_id(created.volume.id)

    server = client.servers.get_by_name(server_name)
    out["attach"] = {"action": wait(volume.attach(server))}
    volume.reload()
    out["attach"]["after"] = volume_dict(volume)

    other = client.servers.get_by_name(other_server_name)
    try:
        volume.attach(other)
        out["attach_attached"] = None
    except APIException as e:
        out["attach_attached"] = {"code": e.code, "message": e.message, "details": e.details}

    out["detach"] = {"action": wait(volume.detach())}
    volume.reload()
    out["detach"]["after"] = volume_dict(volume)

    try:
        volume.attach(other)
        out["attach_elsewhere"] = None
    except APIException as e:
        out["attach_elsewhere"] = {"code": e.code, "message": e.message, "details": e.details}

    out["delete"] = {"result": volume.delete()}
    out["after_delete"] = client.volumes.get_by_name(name) is None

    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
