"""docker-py pushing to and pulling from a real registry through Berth: the calls docker-compose 1.x makes.

REGISTRY is host:port of an empty registry on loopback. Prints "docker-py registry: ok" when every check holds.
"""
import os
import sys

import docker


def fail(message):
    print(f"FAILED: {message}")
    sys.exit(1)


registry = os.environ["REGISTRY"]
client = docker.from_env()
repository = f"{registry}/py-demo"

busybox = client.images.get("busybox")
busybox.tag(repository, tag="1")

pushed = list(client.images.push(repository, tag="1", stream=True, decode=True))
errors = [m for m in pushed if "error" in m]
if errors:
    fail(f"push reported {errors}")
aux = [m["aux"] for m in pushed if "aux" in m]
if not aux or not aux[-1].get("Digest", "").startswith("sha256:"):
    fail(f"push gave no digest: {pushed}")
digest = aux[-1]["Digest"]

client.images.remove(f"{repository}:1")
pulled = client.images.pull(repository, tag="1")
if pulled.id != busybox.id:
    fail(f"pulled {pulled.id}, pushed {busybox.id}")
if f"{repository}@{digest}" not in pulled.attrs["RepoDigests"]:
    fail(f"RepoDigests {pulled.attrs['RepoDigests']} lack {repository}@{digest}")
output = client.containers.run(f"{repository}:1", ["echo", "pulled by docker-py"], remove=True)
if output != b"pulled by docker-py\n":
    fail(f"the pulled image ran and said {output!r}")

try:
    client.images.pull(f"{registry}/nosuch", tag="1")
    fail("pulling a missing repository succeeded")
except docker.errors.NotFound as error:
    if "manifest unknown" not in str(error):
        fail(f"unexpected error for a missing repository: {error}")

print("docker-py registry: ok")
