"""Stand-ins for the mail server and Slack (third parties the tests cannot reach), speaking their
real protocols: a real SMTP server (aiosmtpd) and a local HTTP server answering as Slack's incoming
webhooks do."""

import collections
import json
import threading
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.support import free_port


class MailServer:
    """A real SMTP server on this machine: what it received, and the recipients it refuses."""

    def __init__(self):
        self.port = free_port()
        self.messages: list = []
        self.refuse: set[str] = set()
        self.controller = None

    def start(self) -> "MailServer":
        server = self

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
                if address in server.refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):
                server.messages.append(message_from_bytes(envelope.original_content))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     server_kwargs={"decode_data": False})
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        return [str(make_header(decode_header(m["Subject"]))) for m in self.messages]


class SlackServer:
    """A local HTTP server answering as Slack's incoming webhooks do (scripted answers, then 200 "ok").
    Any path is a webhook: ``webhook_of(name)`` gives each user one of their own, ``paths`` counts
    what arrived at each."""

    def __init__(self):
        self.answers: collections.deque = collections.deque()
        self.received: list[tuple[float, dict]] = []
        self.paths: collections.Counter = collections.Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.received.append((time.monotonic(), body))
                server.paths[self.path] += 1
                status, text, headers = server.answers.popleft() if server.answers else (200, "ok", {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = self.webhook_of("0")

    def webhook_of(self, name) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.path_of(name)}"

    @staticmethod
    def path_of(name) -> str:
        return f"/services/T0/B{name}/secret-token"

    def stop(self):
        self.httpd.shutdown()
