"""docker-py 7.1's container, exec and image calls against a Berth daemon, as docker-py's own integration suite
(tests/integration/api_container_test.py, api_exec_test.py, api_image_test.py) makes them: exec framing, detach
keys, links, a MAC address, runtimes, the archive API on a volume, commit, prune filters, a malformed load.

Run by tests/client_docker_py.rs with DOCKER_HOST set; the same script passes against dockerd. Any failed assertion
exits non-zero.
"""
import io
import os
import socket
import struct
import tarfile
import time

import docker

from expect import fails

api = docker.APIClient(base_url=os.environ["DOCKER_HOST"])
made = []


def cat():
    """A container running `cat` with stdin open, as the suite's tests start theirs."""
    container = api.create_container("busybox", "cat", detach=True, stdin_open=True)
    made.append(container["Id"])
    api.start(container)
    return container["Id"]


def raw(sock):
    return getattr(sock, "_sock", sock)


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the stream ended after %d of %d bytes" % (len(data), size)
        data += chunk
    return data


def exec_running(exec_id, running, timeout=10):
    deadline = time.monotonic() + timeout
    while api.exec_inspect(exec_id)["Running"] != running:
        assert time.monotonic() < deadline, "exec %s never got Running=%s" % (exec_id, running)
        time.sleep(0.05)


def detached_by(keys, **create):
    """Starts `cat` as a tty exec, sends `keys`: the stream must end, the container keep running."""
    container = cat()
    exec_id = api.exec_create(container, "cat", stdin=True, tty=True, stdout=True, **create)["Id"]
    sock = raw(api.exec_start(exec_id, tty=True, socket=True))
    exec_running(exec_id, True)
    for key in keys:
        sock.sendall(key)
    sock.settimeout(10)
    rest = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    sock.close()
    assert api.inspect_container(container)["State"]["Running"], "detaching keeps the container running"
    return rest


def ctrl(letter):
    return bytes([ord(letter) - ord("a") + 1])


# Exec output is framed when the start asks for no tty, whatever the exec was created with (test_exec_start_socket).
line = "yay, interactive exec!"
exec_id = api.exec_create(cat(), ["printf", line], tty=True)["Id"]
sock = raw(api.exec_start(exec_id, socket=True))
stream, size = struct.unpack(">BxxxL", read_exactly(sock, 8))
assert (stream, size) == (1, len(line)), (stream, size)
assert read_exactly(sock, size).decode() == line
sock.close()
# ... and raw with a tty start.
exec_id = api.exec_create(cat(), ["printf", line], tty=True)["Id"]
assert api.exec_start(exec_id, tty=True) == line.encode()

# Detach keys: the default, the config file's, and the create's own over the config file's.
detached_by([ctrl("p"), ctrl("q")])
api._general_configs["detachKeys"] = "ctrl-p"
detached_by([ctrl("p")])
detached_by([ctrl("x")], detach_keys="ctrl-x")
del api._general_configs["detachKeys"]
bad = fails(api.exec_create, cat(), "cat", stdin=True, tty=True, detach_keys="ctrl-")
# dockerd 20.10 says 500, later ones 400; the words are the same.
assert bad.status_code in (400, 500) and "Invalid escape keys (ctrl-) provided" in str(bad), bad

# A link is removed by its path; both containers stay (test_remove_link).
first = cat()
alias_path = api.inspect_container(first)["Name"][1:]
second = api.create_container("busybox", "cat", host_config=api.create_host_config(links={alias_path: "mylink"}))
made.append(second["Id"])
api.start(second)
link = "%s/mylink" % api.inspect_container(second)["Name"][1:]
api.remove_container(link, link=True)
listed = api.containers(all=True)
assert not [c for c in listed if "/" + link in c["Names"]], listed
assert len([c for c in listed if c["Id"] in (first, second["Id"])]) == 2
assert fails(api.remove_container, link, link=True).status_code == 404

# A MAC address is honoured: in inspect and on eth0 (test_create_with_mac_address).
mac = "02:42:ac:11:00:0a"
with_mac = api.create_container("busybox", ["sleep", "60"], mac_address=mac)
made.append(with_mac["Id"])
api.start(with_mac)
assert api.inspect_container(with_mac)["NetworkSettings"]["MacAddress"] == mac
exec_id = api.exec_create(with_mac, ["cat", "/sys/class/net/eth0/address"])["Id"]
assert api.exec_start(exec_id).decode().strip() == mac

# The runtime named at create shows in HostConfig; an unknown one is refused (test_create_with_runtime).
runc = api.create_container("busybox", ["echo", "test"], runtime="runc")
made.append(runc["Id"])
assert api.inspect_container(runc)["HostConfig"]["Runtime"] == "runc"
unknown = fails(api.create_container, "busybox", ["echo"], runtime="nosuch")
assert unknown.status_code == 400 and "Unknown runtime specified nosuch" in str(unknown), unknown

# The archive API writes into and reads from a named volume.
api.create_volume("pyarchive")
on_volume = api.create_container(
    "busybox", "cat", stdin_open=True, host_config=api.create_host_config(binds=["pyarchive:/data"])
)
made.append(on_volume["Id"])
api.start(on_volume)
upload = io.BytesIO()
with tarfile.open(fileobj=upload, mode="w") as tar:
    body = b"into the volume\n"
    info = tarfile.TarInfo("note.txt")
    info.size = len(body)
    tar.addfile(info, io.BytesIO(body))
assert api.put_archive(on_volume, "/data", upload.getvalue())
exec_id = api.exec_create(on_volume, ["cat", "/data/note.txt"])["Id"]
assert api.exec_start(exec_id) == b"into the volume\n"
stream, stat = api.get_archive(on_volume, "/data/note.txt")
assert stat["name"] == "note.txt" and stat["size"] == len(b"into the volume\n"), stat
with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
    assert tar.extractfile("note.txt").read() == b"into the volume\n"

# Commit with changes and an author (test_commit_with_changes).
touched = api.create_container("busybox", ["touch", "/test"])
made.append(touched["Id"])
api.start(touched)
api.wait(touched)
image = api.commit(touched, changes=["EXPOSE 8000", 'CMD ["bash"]'], author="Py Author", message="from docker-py")
committed = api.inspect_image(image["Id"])
assert "8000/tcp" in committed["Config"]["ExposedPorts"], committed["Config"]
assert committed["Config"]["Cmd"] == ["bash"] and committed["Author"] == "Py Author", committed
assert committed["Comment"] == "from docker-py", committed
api.remove_image(image["Id"])

# Prune: exited containers only, narrowed by labels; a filter dockerd does not know is a 400.
for container in list(made):
    api.remove_container(container, force=True)
    made.remove(container)
keep = api.create_container("busybox", ["true"], labels={"prune": "keep"})
drop = api.create_container("busybox", ["sh", "-c", "echo hello > /data.txt"], labels={"prune": "drop"})
unlabelled = api.create_container("busybox", ["true"])
running = api.create_container("busybox", ["sleep", "9999"], labels={"prune": "drop"})
for container in (keep, drop, unlabelled, running):
    made.append(container["Id"])
    api.start(container)
for container in (keep, drop, unlabelled):
    api.wait(container)
result = api.prune_containers(filters={"label": "prune=drop"})
assert result["ContainersDeleted"] == [drop["Id"]], result
assert result["SpaceReclaimed"] > 0, result
result = api.prune_containers(filters={"label!": "prune"})
assert result["ContainersDeleted"] == [unlabelled["Id"]], result
assert api.prune_containers(filters={"until": "2000-01-01T00:00:00Z"})["ContainersDeleted"] is None
assert fails(api.prune_containers, filters={"colour": "red"}).status_code == 400
result = api.prune_containers()
assert result["ContainersDeleted"] == [keep["Id"]], result
api.remove_container(running, force=True)
made.clear()
api.remove_volume("pyarchive")

# A malformed `docker load` raises docker-py's ImageLoadError (from the stream's error line).
client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
try:
    client.images.load(b"this is not a tar archive, not even close" * 20)
    raise AssertionError("loading garbage did not fail")
except docker.errors.ImageLoadError as error:
    assert "Error processing tar file" in str(error) or "invalid tar header" in str(error), error

print("docker-py containers: ok")
