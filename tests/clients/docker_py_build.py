"""docker-py 7.1's build calls against a Berth daemon, as docker-py's own integration suite
(tests/integration/api_build_test.py) makes them: extra hosts, network modes, cache_from, squash, platforms, RUN's
stderr, a failed RUN's error, Dockerfiles outside, inside and nested in the context, gzip, a blank .dockerignore.

Run by tests/client_docker_py.rs with DOCKER_HOST set; the same script passes against dockerd. Any failed assertion
exits non-zero.
"""
import io
import os
import shutil
import tempfile

import docker

from expect import fails

api = docker.APIClient(base_url=os.environ["DOCKER_HOST"])
images, containers, networks, directories = [], [], [], []


def dockerfile(*lines):
    return io.BytesIO("\n".join(lines).encode())


def build(**kwargs):
    """The build's decoded stream, read to its end; a tag given is removed at the end of the script."""
    if "tag" in kwargs:
        images.append(kwargs["tag"])
    return list(api.build(decode=True, **kwargs))


def succeeded(lines):
    assert not [l for l in lines if "errorDetail" in l], lines
    return lines


def output_of(image, command):
    container = api.create_container(image, command)
    containers.append(container["Id"])
    api.start(container)
    api.wait(container)
    return api.logs(container).decode()


def context(files):
    directory = tempfile.mkdtemp()
    directories.append(directory)
    for name, text in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return directory


def listing(image):
    return sorted(output_of(image, "ls -a").split())


try:
    # Extra hosts reach RUN's /etc/hosts (test_build_with_extra_hosts).
    succeeded(
        build(
            fileobj=dockerfile(
                "FROM busybox",
                "RUN ping -c1 hello.world.test",
                "RUN ping -c1 extrahost.local.test",
                "RUN cp /etc/hosts /hosts-file",
            ),
            tag="pybuild-extrahosts",
            extra_hosts={"extrahost.local.test": "127.0.0.1", "hello.world.test": "127.0.0.1"},
        )
    )
    hosts = output_of("pybuild-extrahosts", "cat /hosts-file")
    assert "127.0.0.1\textrahost.local.test" in hosts and "127.0.0.1\thello.world.test" in hosts, hosts

    # network_mode: RUN on a user network resolves its aliases; with none, the ping fails with its exit code in
    # errorDetail and no image is left; an unknown network is dockerd's error (test_build_with_network_mode).
    network = api.create_network("pybuildnet")["Id"]
    networks.append(network)
    target = api.create_container("busybox", "top")
    containers.append(target["Id"])
    api.start(target)
    api.connect_container_to_network(target, network, aliases=["pingtarget.docker"])
    ping = ("FROM busybox", "RUN ping -c1 pingtarget.docker")
    succeeded(build(fileobj=dockerfile(*ping), network_mode=network, tag="pybuild-customnet"))
    assert api.inspect_image("pybuild-customnet")
    lines = build(fileobj=dockerfile(*ping), network_mode="none", tag="pybuild-nonet", nocache=True)
    assert lines[-1]["errorDetail"]["code"] == 1, lines[-1]
    assert fails(api.inspect_image, "pybuild-nonet").status_code == 404
    unknown = fails(api.build, fileobj=dockerfile(*ping), network_mode="nosuchnet", nocache=True, decode=True)
    assert "network nosuchnet not found" in str(unknown), unknown

    # cache_from: three steps from the named image's cache, none from a missing one (test_build_with_cache_from).
    cached = ("FROM busybox", "ENV FOO=bar", "RUN touch baz", "RUN touch bax")
    succeeded(build(fileobj=dockerfile(*cached), tag="pybuild-cache1"))
    hits = lambda lines: sum("Using cache" in l.get("stream", "") for l in lines)
    assert hits(succeeded(build(fileobj=dockerfile(*cached), tag="pybuild-cache2", cache_from=["pybuild-cache1"]))) == 3
    api.remove_image("pybuild-cache2")
    assert hits(succeeded(build(fileobj=dockerfile(*cached), tag="pybuild-cache2", cache_from=["nosuchtag"]))) == 0

    # squash needs an experimental daemon; so does a platform, which must name a real one.
    squash = fails(api.build, fileobj=dockerfile("FROM busybox", "RUN true"), squash=True)
    assert squash.status_code == 400 and "squash is only supported with experimental mode" in str(squash), squash
    platform = fails(api.build, fileobj=dockerfile("FROM busybox"), platform="foobar", decode=True)
    assert "unknown operating system or architecture" in str(platform), platform

    # RUN's stderr comes in red (test_build_stderr_data); a failed RUN's errorDetail has its exit code.
    snippet = "Ancient Temple (Mystic Oriental Dream ~ Ancient Temple)"
    lines = build(fileobj=dockerfile("FROM busybox", "RUN sh -c \">&2 echo '%s'\"" % snippet), nocache=True)
    assert "\x1b[91m%s\n\x1b[0m" % snippet in [l.get("stream") for l in lines], lines
    lines = build(fileobj=dockerfile("FROM busybox", "RUN exit 7"), nocache=True)
    assert lines[-1]["errorDetail"]["code"] == 7, lines[-1]
    assert "returned a non-zero code: 7" in lines[-1]["error"], lines[-1]

    # A Dockerfile outside the context, one in it under another name, one nested, one named by an absolute path.
    copy_all = "FROM busybox\nCOPY . /src\nWORKDIR /src\n"
    files = {"file.txt": "hello world", ".dockerignore": ".dockerignore\n"}
    outside = os.path.join(context({"Dockerfile": copy_all}), "Dockerfile")
    succeeded(build(path=context(files), dockerfile=outside, tag="pybuild-outside"))
    assert listing("pybuild-outside") == [".", "..", "file.txt"]
    inside = context({"file.txt": "hello world", "custom.dockerfile": copy_all})
    succeeded(build(path=inside, dockerfile="custom.dockerfile", tag="pybuild-inside"))
    assert listing("pybuild-inside") == [".", "..", "custom.dockerfile", "file.txt"]
    succeeded(build(path=inside, dockerfile=os.path.join(inside, "custom.dockerfile"), tag="pybuild-absolute"))
    assert listing("pybuild-absolute") == [".", "..", "custom.dockerfile", "file.txt"]
    nested = context({"file.txt": "hello world", "hello/world/custom.dockerfile": copy_all})
    succeeded(build(path=nested, dockerfile="hello/world/custom.dockerfile", tag="pybuild-nested"))
    assert listing("pybuild-nested") == [".", "..", "file.txt", "hello"]

    # A gzip context (test_build_gzip_encoding) and a .dockerignore of blank lines (..._empty_lines).
    lines = succeeded(build(path=context({"Dockerfile": "FROM busybox\nADD . /test\n"}), nocache=True, gzip=True))
    assert "Successfully built" in lines[-1]["stream"], lines[-1]
    blank = context({"Dockerfile": "FROM busybox\n", ".dockerignore": "   \n\n\t\t\n\t     "})
    lines = succeeded(build(path=blank, nocache=True))
    assert "Successfully built" in lines[-1]["stream"], lines[-1]
finally:
    for container in containers:
        api.remove_container(container, force=True)
    for network in networks:
        api.remove_network(network)
    for image in images:
        try:
            api.remove_image(image)
        except docker.errors.NotFound:
            pass
    for directory in directories:
        shutil.rmtree(directory)

print("docker-py build: ok")
