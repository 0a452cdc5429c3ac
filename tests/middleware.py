"""Middleware for the test suite only (tests/settings.py)."""

import os
import signal

CRASH_HEADER = "X-Test-Crash-After-Commit"


class CrashAfterCommitMiddleware:
    """kill -9 this process after the view has answered, before the response is sent.

    Only for requests that carry ``X-Test-Crash-After-Commit``: the operation has
    committed (each runs in its own transaction), the client never hears of it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.headers.get(CRASH_HEADER):
            os.kill(os.getpid(), signal.SIGKILL)
        return response
