"""Catalogue responses are cached per process until the catalogue version moves; a hit is
replayed whole, with fresh per-request headers, and nothing but catalogue reads is kept."""

import threading

import pytest

from shop import create_app
from shop.catalogue import cache
from shop.catalogue.models import Variant
from shop.catalogue_version import bump_catalogue_version

URL = "/api/v1/products/moist-hyaluronic-acid-serum"
LIST_URL = "/api/v1/products?skin_type=oily&sort=price&per_page=5"
ORIGIN = "https://shop.aestheticsglow.example"


def cached_app(app_config, **settings):
    return create_app({**app_config, "CATALOGUE_RESPONSE_CACHE_SECONDS": 60,
                       "CATALOGUE_VERSION_CHECK_MS": 0, "CORS_ORIGINS": [ORIGIN], **settings})


@pytest.fixture
def cached_client(app_config, db_session):
    return cached_app(app_config).test_client()


def first_price(client) -> int:
    return client.get(URL).json["variants"][0]["price"]["amount"]


def raise_price(db_session, by: int) -> None:
    variant = db_session.query(Variant).filter_by(sku="GLW-SER-MOIST-15").one()
    variant.price_amount += by
    db_session.flush()


def test_repeat_reads_come_from_the_cache_until_a_catalogue_write(cached_client, db_session):
    before = first_price(cached_client)
    raise_price(db_session, 500)
    assert first_price(cached_client) == before  # served from the cache
    bump_catalogue_version(session=db_session)
    assert first_price(cached_client) == before + 500


def test_the_version_is_read_at_most_every_check_interval(app_config, db_session, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    client = cached_app(app_config, CATALOGUE_VERSION_CHECK_MS=200).test_client()
    before = first_price(client)
    raise_price(db_session, 500)
    bump_catalogue_version(session=db_session)
    clock[0] += 0.1
    assert first_price(client) == before  # the version read 0.1 s ago still stands
    clock[0] += 0.1
    assert first_price(client) == before + 500


def test_a_hit_carries_the_same_headers_as_the_miss_but_its_own_request_id(cached_client):
    miss = cached_client.get(LIST_URL, headers={"Origin": ORIGIN})
    hit = cached_client.get(LIST_URL, headers={"Origin": ORIGIN, "X-Request-ID": "req-42"})
    assert hit.data == miss.data

    def stable(response):
        return sorted((k, v) for k, v in response.headers.items()
                      if k not in ("X-Request-ID", "Date"))

    assert stable(hit) == stable(miss)
    assert hit.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert hit.headers["X-Request-ID"] == "req-42"
    assert hit.headers["Date"]
    other = cached_client.get(LIST_URL, headers={"X-Request-ID": "bad id!"})
    assert other.headers["X-Request-ID"] not in ("bad id!", miss.headers["X-Request-ID"])


def test_each_origin_gets_its_own_cors_answer(cached_client):
    cached_client.get(LIST_URL, headers={"Origin": ORIGIN})
    stranger = cached_client.get(LIST_URL, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_cached_responses_keep_etags_and_304s(cached_client):
    first = cached_client.get(URL)
    second = cached_client.get(URL, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304
    assert second.data == b""
    assert second.headers["ETag"] == first.headers["ETag"]
    assert cached_client.get(URL).headers["ETag"] == first.headers["ETag"]
    stale = cached_client.get(URL, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_errors_are_not_cached(cached_client):
    assert cached_client.get("/api/v1/products/nope").status_code == 404
    assert cached_client.get("/api/v1/products?per_page=0").status_code == 422
    assert cached_client.get("/api/v1/products/nope").status_code == 404


def test_only_catalogue_reads_are_kept(app_config, db_session):
    app = cached_app(app_config)
    client = app.test_client()
    created = client.post("/api/v1/carts", json={})
    cart_url = f"/api/v1/carts/{created.json['id']}"
    client.get(cart_url)
    client.get(URL)
    client.get("/health")
    middleware = app.wsgi_app
    assert isinstance(middleware, cache.CatalogueResponseCache)
    assert [key[2] for key in middleware.store._entries] == [URL]


def test_no_cache_at_all_when_switched_off(app_config, db_session):
    app = create_app({**app_config, "CATALOGUE_RESPONSE_CACHE_SECONDS": 0})
    client = app.test_client()
    before = first_price(client)
    raise_price(db_session, 500)
    assert first_price(client) == before + 500
    assert not app.wsgi_app.store._entries


def test_the_store_keeps_to_its_byte_budget():
    store = cache.ResponseStore(max_bytes=10)
    for n in range(4):
        store.put((n,), cache.Cached("200 OK", (), b"12345", None, float("inf")))
    assert store.get((0,)) is None and store.get((1,)) is None
    assert store.get((3,)).body == b"12345"


def test_one_thread_reads_the_version_while_the_others_keep_theirs(app, monkeypatch):
    """With gthread workers, every thread at the re-read boundary used to read the version on
    a connection of its own; one does now, and the others go on with the version they have."""
    clock = cache.VersionClock(app)
    reads, reading, release = [], threading.Event(), threading.Event()

    def slow_read(_session):
        reads.append(1)
        if len(reads) > 1:
            reading.set()
            release.wait(5)
        return len(reads)

    monkeypatch.setattr(cache, "current_catalogue_version", slow_read)
    monkeypatch.setitem(app.config, "CATALOGUE_VERSION_CHECK_MS", 0)
    assert clock.version() == 1
    reader = threading.Thread(target=clock.version)
    reader.start()
    assert reading.wait(5)
    assert clock.version() == 1  # at once, without a read of its own
    release.set()
    reader.join(5)
    assert clock.version() == 3 and len(reads) == 3


def the_only_key(app) -> tuple:
    (key,) = app.wsgi_app.store._entries
    return key


def test_an_expired_entry_is_replayed_while_another_thread_refreshes_it(
    app_config, db_session, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cache, "BUILD_WAIT_SECONDS", 0.01)
    app = cached_app(app_config, CATALOGUE_RESPONSE_CACHE_SECONDS=5)
    client = app.test_client()
    before = first_price(client)
    raise_price(db_session, 500)  # stock and prices move between refreshes of an entry
    key = the_only_key(app)
    store = app.wsgi_app.store
    assert store.claim(key) is None  # another thread is refreshing the entry
    clock[0] += 6
    assert first_price(client) == before  # expired a second ago: replayed as it was
    clock[0] += 5
    assert first_price(client) == before + 500  # 6 s past expiry: too old to replay
    store.release(key)
    assert first_price(client) == before + 500  # this request refreshed it
    raise_price(db_session, 500)
    assert first_price(client) == before + 500  # the refreshed entry is fresh again


def slow_inner_app(app, monkeypatch, started: threading.Event, go: threading.Event) -> list:
    """Make the app behind the cache wait for `go` on its first call; returns its calls."""
    middleware = app.wsgi_app
    inner, calls = middleware.wsgi_app, []

    def slow(environ, start_response):
        calls.append(environ["PATH_INFO"])
        if len(calls) == 1:
            started.set()
            go.wait(5)
        return inner(environ, start_response)

    monkeypatch.setattr(middleware, "wsgi_app", slow)
    return calls


def get_at_once(app, url: str, count: int, started: threading.Event, go: threading.Event):
    responses = []

    def get():
        response = app.test_client().get(url)
        responses.append((response.status_code, response.data))

    first = threading.Thread(target=get)
    first.start()
    assert started.wait(5)  # the first request is building the response
    others = [threading.Thread(target=get) for _ in range(count - 1)]
    for thread in others:
        thread.start()
    threading.Event().wait(0.2)  # (the others reach the cache and wait for the first)
    go.set()
    for thread in (first, *others):
        thread.join(10)
    return responses


def test_one_thread_builds_a_missing_response_while_the_others_wait_for_it(
    app_config, db_session, monkeypatch
):
    app = cached_app(app_config, CATALOGUE_VERSION_CHECK_MS=60_000)
    app.test_client().get("/api/v1/categories")  # the version is read once, here
    started, go = threading.Event(), threading.Event()
    calls = slow_inner_app(app, monkeypatch, started, go)
    responses = get_at_once(app, LIST_URL.split("?")[0], 6, started, go)
    assert len(calls) == 1
    assert len(responses) == 6 and len(set(responses)) == 1
    assert responses[0][0] == 200


def test_when_the_builder_stores_nothing_the_others_answer_themselves(
    app_config, db_session, monkeypatch
):
    app = cached_app(app_config, CATALOGUE_VERSION_CHECK_MS=60_000)
    app.test_client().get("/api/v1/categories")
    started, go = threading.Event(), threading.Event()
    calls = slow_inner_app(app, monkeypatch, started, go)
    responses = get_at_once(app, "/api/v1/products?per_page=0", 4, started, go)
    assert len(calls) == 4
    assert [status for status, _ in responses] == [422] * 4  # not kept: each answered it
    assert not app.wsgi_app.store._building
