"""Two sessions of a shared Berth through docker-py, each client with its own config.json (HttpHeaders carrying
the session's token): neither finds, execs into, stops, removes, copies from or attaches to the other's container,
by name, id or prefix, and a forbidden option is a 403 with its reason."""

import os
import sys

import docker


def client(config_dir):
    # docker-py reads HttpHeaders from the config file DOCKER_CONFIG names, when the client is made.
    os.environ["DOCKER_CONFIG"] = config_dir
    return docker.DockerClient(base_url=os.environ["BERTH_URL"], version="auto")


def must_be_missing(what, action):
    try:
        action()
    except docker.errors.NotFound as error:
        assert "No such container" in str(error), f"{what}: {error}"
        return
    sys.exit(f"{what}: bob reached alice's container")


alice = client(os.environ["ALICE_CONFIG"])
bob = client(os.environ["BOB_CONFIG"])
mine = alice.containers.run("busybox", "sleep 300", name="web", detach=True)
theirs = bob.containers.run("busybox", "sleep 300", name="web", detach=True)
assert mine.id != theirs.id
assert [c.id for c in alice.containers.list(all=True)] == [mine.id]
assert [c.id for c in bob.containers.list(all=True)] == [theirs.id]
assert bob.containers.get("web").id == theirs.id

for reference in (mine.id, mine.id[:12], mine.id[:6]):
    must_be_missing("get", lambda: bob.containers.get(reference))
    must_be_missing("exec", lambda: bob.api.exec_create(reference, "true"))
    must_be_missing("stop", lambda: bob.api.stop(reference, timeout=0))
    must_be_missing("remove", lambda: bob.api.remove_container(reference, force=True))
    must_be_missing("archive", lambda: bob.api.get_archive(reference, "/etc/hostname"))
    must_be_missing("attach", lambda: bob.api.attach(reference, stream=False, logs=True))
    must_be_missing("logs", lambda: bob.api.logs(reference))

mine.reload()
assert mine.status == "running", mine.status
assert alice.containers.get("web").exec_run("hostname").output.decode().strip() == mine.id[:12]

try:
    bob.containers.run("busybox", "true", privileged=True)
    sys.exit("a privileged container was created in a session")
except docker.errors.APIError as error:
    assert error.status_code == 403 and "--privileged" in str(error), error

mine.remove(force=True)
theirs.remove(force=True)
print("docker-py tenancy: ok")
