"""How stripe-python reaches Stripe: urllib3 connection pools shared by a worker's threads.

stripe.RequestsClient re-reads the proxy settings from the environment on every call (about
0.9 ms of CPU per call here); this client reads them once, when it is built.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass_environment

import stripe
import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ProxyError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

# Connections kept per host: more than a gunicorn worker's 8 threads use at once.
CONNECTIONS_PER_HOST = 16
# Connect and read timeouts, covering connection refused and reset too, as with requests.
RETRYABLE = (Urllib3TimeoutError, ProtocolError, ProxyError)
# requests asks for compressed replies; asking for the same keeps list replies as small.
DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate"}
CERTIFICATE_FAILED = (
    "Could not verify Stripe's SSL certificate.  Please make sure that your network is not "
    "intercepting certificates.  If this problem persists, let us know at support@stripe.com."
)
NETWORK_FAILED = (
    "Unexpected error communicating with Stripe.  If this problem persists, let us know at "
    "support@stripe.com."
)
LOCAL_FAILURE = (
    "Unexpected error communicating with Stripe. It looks like there's probably a "
    "configuration issue locally.  If this problem persists, let us know at support@stripe.com."
)


def proxy_for(url: str, environment: Mapping[str, str],
              explicit: Mapping[str, str | None] | None = None) -> str | None:
    """The proxy a request to `url` goes through, or None to connect directly.

    `environment` is what urllib.request.getproxies() answered (scheme → proxy, "no" → the
    NO_PROXY list); a proxy given to the client itself (`explicit`) is used even for hosts
    NO_PROXY names, as requests does.
    """
    scheme, netloc = urlsplit(url)[:2]
    if explicit and explicit.get(scheme):
        return explicit[scheme]
    proxy = environment.get(scheme)
    if proxy and not proxy_bypass_environment(netloc, environment):
        return proxy
    return None


def connection_error(exc: Exception) -> stripe.APIConnectionError:
    """The error stripe-python expects from a client, retryable as RequestsClient decides."""
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, SSLError):
        message, should_retry = CERTIFICATE_FAILED, False
    elif isinstance(exc, RETRYABLE):
        message, should_retry = NETWORK_FAILED, True
    elif isinstance(exc, HTTPError):
        message, should_retry = NETWORK_FAILED, False
    else:
        message, should_retry = LOCAL_FAILURE, False
    detail = f"{type(exc).__name__}: {exc}"
    return stripe.APIConnectionError(
        f"{textwrap.fill(message)}\n\n(Network error: {detail})", should_retry=should_retry
    )


class Urllib3Client(stripe.HTTPClient):
    """One thread-safe pool manager per route (direct, or through each configured proxy)."""

    name = "urllib3"

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._environment_proxies = getproxies()
        self._managers = self._build_managers(timeout)

    def _build_managers(self, timeout: float) -> dict[str | None, urllib3.PoolManager]:
        settings = {
            "maxsize": CONNECTIONS_PER_HOST, "block": False, "retries": False,
            "timeout": urllib3.Timeout(connect=timeout, read=timeout),
            **self._certificate_settings(),
        }
        proxies = {self._environment_proxies.get(scheme) for scheme in ("http", "https")}
        proxies |= set((self._proxy or {}).values())
        managers: dict[str | None, urllib3.PoolManager] = {None: urllib3.PoolManager(**settings)}
        for proxy in proxies - {None}:
            managers[proxy] = urllib3.ProxyManager(
                proxy, proxy_headers=_proxy_credentials(proxy), **settings)
        return managers

    def _certificate_settings(self) -> dict[str, str]:
        if self._verify_ssl_certs:
            return {"cert_reqs": "CERT_REQUIRED", "ca_certs": stripe.ca_bundle_path}
        return {"cert_reqs": "CERT_NONE"}

    def _send(self, method: str, url: str, headers: Mapping[str, str] | None,
              post_data: Any, *, preload_content: bool) -> urllib3.BaseHTTPResponse:
        manager = self._managers[proxy_for(url, self._environment_proxies, self._proxy)]
        try:
            return manager.request(method, url, body=post_data,
                                   headers={**DEFAULT_HEADERS, **(headers or {})},
                                   preload_content=preload_content)
        except Exception as exc:
            raise connection_error(exc) from exc

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None) -> tuple[bytes, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload_content=True)
        # urllib3's HTTPHeaderDict: case-insensitive, like the CaseInsensitiveDict of requests.
        return response.data, response.status, response.headers

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None) -> tuple[Any, int, Mapping[str, str]]:
        """The unread response, as RequestsClient answers its `raw` for a stream."""
        response = self._send(method, url, headers, post_data, preload_content=False)
        return response, response.status, response.headers

    def close(self) -> None:
        for manager in self._managers.values():
            manager.clear()


def _proxy_credentials(proxy: str) -> dict[str, str] | None:
    """urllib3 does not turn a proxy URL's user:password into a header; requests does."""
    userinfo = urlsplit(proxy).netloc.rpartition("@")[0]
    if not userinfo:
        return None
    return urllib3.make_headers(proxy_basic_auth=unquote(userinfo))
