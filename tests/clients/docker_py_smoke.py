"""docker-py 7.1 against a Berth daemon: the calls scripts and docker-compose 1.x make most.

Run by tests/client_docker_py.rs with DOCKER_HOST and BERTH_HTTP set; any failed assertion exits non-zero.
"""
import os
import time

import docker
import websocket

client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
assert client.version()["ApiVersion"] == "1.50"
assert client.ping()

assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"

box = client.containers.run("busybox", "sh -c 'echo out; sleep 100'", detach=True, name="py1")
deadline = time.time() + 10
while box.logs() != b"out\n":
    assert time.time() < deadline, box.logs()
    time.sleep(0.1)
for i in range(10):
    result = box.exec_run("echo exec%d" % i)
    assert result.exit_code == 0 and result.output == b"exec%d\n" % i, result
assert box.exec_run("sh -c 'exit 3'").exit_code == 3
box.reload()
assert box.status == "running" and box.attrs["State"]["Pid"] > 0
assert box.attrs["HostConfig"]["LogConfig"]["Type"] == "json-file"
assert [c.name for c in client.containers.list()] == ["py1"]
box.stop(timeout=1)
assert box.wait()["StatusCode"] == 137
box.remove()

# attach before start, stdin over the hijacked socket
cat = client.containers.create("busybox", "cat", stdin_open=True, name="py2")
sock = client.api.attach_socket(cat.id, params={"stdin": 1, "stdout": 1, "stream": 1})
cat.start()
sock._sock.sendall(b"via attach\n")
data = b""
deadline = time.time() + 10
while b"via attach" not in data and time.time() < deadline:
    data += sock._sock.recv(100)
assert data == b"\x01\x00\x00\x00\x00\x00\x00\x0bvia attach\n", data
cat.remove(force=True)

# the websocket attach endpoint, over the HTTP port
echo = client.containers.run("busybox", "cat", stdin_open=True, detach=True, name="py3")
ws = websocket.create_connection(
    "ws://%s/v1.50/containers/py3/attach/ws?stream=1&stdin=1&stdout=1" % os.environ["BERTH_HTTP"]
)
ws.send_binary(b"ws hello\n")
assert ws.recv() == b"ws hello\n"
ws.close()
echo.remove(force=True)

assert [i.tags for i in client.images.list()] == [["busybox:latest"]]
assert client.info()["Containers"] == 0
print("docker-py smoke: ok")
