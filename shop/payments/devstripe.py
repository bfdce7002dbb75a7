"""A fake Stripe on loopback for `make run` and the test suite (localstripe, never in production).

`python -m shop.payments.devstripe serve` runs localstripe's aiohttp app on 127.0.0.1 (port 0
picks a free one) with its pickle persistence to /tmp/localstripe.pickle turned off, loads the
extension module that adds what localstripe lacks, and prints `LOCALSTRIPE_PORT=<port>`.
`--latency-ms N` answers every API request (`/v1/...`) N ms late, without using CPU, like
Stripe's own round trip (the bench's Stripe-like scenarios); `_config` calls stay instant.
`python -m shop.payments.devstripe run -- flask run ...` is what `make run` uses: with no
STRIPE_SECRET_KEY it starts that server, points the command's environment at it, registers the
app's webhook, and stops it again when the command ends. localstripe is a development
dependency (requirements-dev.txt); only the child process imports it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from aiohttp import web

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_MODULE = "tests.fixtures.localstripe_ext"
LOCAL_SECRET_KEY = "sk_test_local"
LOCAL_PUBLISHABLE_KEY = "pk_test_local"
DEFAULT_DEV_PORT = 8420
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/api/v1/stripe/webhook"
READY_PREFIX = "LOCALSTRIPE_PORT="


class LocalStripeError(RuntimeError):
    """localstripe could not be started or configured."""


@dataclass
class LocalStripe:
    """A running localstripe child process and the calls its `_config` API offers."""

    url: str
    process: subprocess.Popen
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    def register_webhook(
        self, url: str, secret: str, *, name: str = "shop", events: Sequence[str] | None = None
    ) -> None:
        body: dict = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = list(events)
        self.http.post(f"{self.url}/_config/webhooks/{name}", json=body, timeout=5)\
            .raise_for_status()

    def reset(self) -> None:
        """Forget every object, event and idempotency key (webhooks stay registered)."""
        self.http.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.http.close()


def start(
    *,
    port: int = 0,
    extensions: Sequence[str] = (EXTENSION_MODULE,),
    stderr=None,
    timeout: float = 15.0,
    latency_ms: float = 0,
) -> LocalStripe:
    """Start localstripe in a child process on 127.0.0.1 and wait until it listens; with
    `latency_ms`, every API request is answered that much later."""
    # Run as a file (-P: its folder not on sys.path), so the child skips importing the app.
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "serve", "--port", str(port),
               "--parent-pid", str(os.getpid()), "--latency-ms", str(latency_ms)]
    for module in extensions:
        command += ["--extension", module]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, "PYTHONPATH": _pythonpath()},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX):
                process.stdout.close()
                return LocalStripe(f"http://127.0.0.1:{int(line[len(READY_PREFIX):])}", process)
            if not line and process.poll() is not None:
                break
    process.kill()
    process.wait(timeout=5)
    raise LocalStripeError(f"localstripe did not start (exit code {process.returncode}); "
                           "it comes with requirements-dev.txt")


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH")
    return f"{ROOT}{os.pathsep}{existing}" if existing else str(ROOT)


def serve(*, port: int, extensions: Sequence[str], parent_pid: int | None,
          latency_ms: float = 0) -> None:
    """The child process: localstripe's app on a loopback socket this function binds."""
    from aiohttp import web
    from localstripe import resources, server

    # localstripe pickles its whole store to one fixed /tmp path on every write: slower as a
    # run goes on, and shared between parallel runs. Keep the store in memory only.
    resources.Store.dump_to_disk = lambda self: None
    for module in extensions:
        importlib.import_module(module)
    if latency_ms > 0:
        server.app.middlewares.insert(0, _delay_middleware(latency_ms / 1000))
    sock = _bind_loopback(port)
    print(f"{READY_PREFIX}{sock.getsockname()[1]}", flush=True)
    sys.stdout = sys.stderr  # nobody reads the pipe after the port line
    if parent_pid:
        _exit_with_parent(parent_pid)
    web.run_app(server.app, sock=sock, print=None, access_log=None, shutdown_timeout=1)


def _delay_middleware(seconds: float) -> Callable[[web.Request, Handler], Awaitable]:
    """Answer API requests `seconds` late. An asyncio sleep: concurrent requests overlap and
    wait without CPU, as they would for a distant server."""
    import asyncio

    from aiohttp import web

    @web.middleware
    async def delay(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            await asyncio.sleep(seconds)
        return await handler(request)

    return delay


def _bind_loopback(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        if not port:
            raise
        sock.bind(("127.0.0.1", 0))  # the preferred port is taken: any free one will do
    sock.listen(128)  # connections queue from now on, before aiohttp starts accepting
    return sock


def _exit_with_parent(parent_pid: int) -> None:
    """Never outlive the process that started us (a killed test run or `make run`)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def run_with_fake_stripe(command: Sequence[str], *, port: int, webhook_url: str) -> int:
    """Run `command`; without STRIPE_SECRET_KEY, first start localstripe and point it there."""
    if os.environ.get("STRIPE_SECRET_KEY"):
        os.execvp(command[0], list(command))
    fake = start(port=port)
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or f"whsec_local_{secrets.token_hex(16)}"
    env = {
        **os.environ,
        "STRIPE_API_BASE": fake.url,
        "STRIPE_SECRET_KEY": LOCAL_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": LOCAL_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": secret,
    }
    try:
        fake.register_webhook(webhook_url, secret)
        _announce(fake.url, webhook_url)
        child = subprocess.Popen(list(command), env=env)
        # Ctrl+C reaches the whole process group: let the server stop, then clean up here
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()
    finally:
        fake.stop()


def _announce(url: str, webhook_url: str) -> None:
    bar = "!" * 78
    sys.stderr.write(
        f"\n{bar}\n!!! PAYMENTS ARE FAKE: no STRIPE_SECRET_KEY, so Stripe is localstripe at {url}\n"
        f"!!! Its webhooks go to {webhook_url}. No money moves; test cards only\n"
        f"!!! (4242424242424242 pays, 4000000000000341 is declined).\n"
        f"!!! A worker for this fake Stripe: STRIPE_API_BASE={url} "
        f"STRIPE_SECRET_KEY={LOCAL_SECRET_KEY} flask worker\n{bar}\n\n"
    )
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shop.payments.devstripe")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run localstripe on 127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=0)
    serve_parser.add_argument("--extension", action="append", default=[])
    serve_parser.add_argument("--parent-pid", type=int)
    serve_parser.add_argument("--latency-ms", type=float, default=0,
                              help="answer each API request this many ms late")
    run_parser = commands.add_parser("run", help="run a command against a fake Stripe")
    run_parser.add_argument("--port", type=int,
                            default=int(os.environ.get("LOCALSTRIPE_PORT", DEFAULT_DEV_PORT)))
    run_parser.add_argument("--webhook-url", default=DEFAULT_WEBHOOK_URL)
    run_parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(port=args.port, extensions=args.extension, parent_pid=args.parent_pid,
              latency_ms=args.latency_ms)
        return 0
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        parser.error("run needs a command after --")
    return run_with_fake_stripe(command, port=args.port, webhook_url=args.webhook_url)


if __name__ == "__main__":
    sys.exit(main())
