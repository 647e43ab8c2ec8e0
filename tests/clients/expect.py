"""What the docker-py scripts share: a call that must fail with the daemon's error."""
import docker


class StreamError(Exception):
    """An error a streamed answer (a build's, a pull's) ended with, after its 200."""

    def __init__(self, line):
        super().__init__(line.get("error", line))
        self.code = line.get("errorDetail", {}).get("code")


def fails(call, *args, **kwargs):
    """Runs `call`, which must fail: with an APIError (the daemon's status) or, for a streamed answer read to its
    end, with an error line in the stream. Returns the error."""
    try:
        answer = call(*args, **kwargs)
        if hasattr(answer, "__next__"):
            for line in answer:
                if isinstance(line, dict) and "error" in line:
                    return StreamError(line)
    except docker.errors.APIError as error:
        return error
    raise AssertionError("%s%r did not fail" % (getattr(call, "__name__", call), args))
