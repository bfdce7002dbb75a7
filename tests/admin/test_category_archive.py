"""Categories are archived (hidden from the storefront), not deleted, once they are in use."""

from shop.audit.models import AuditEntry  # noqa: F401  (the audit log records the change)


def test_archiving_hides_a_category_from_the_storefront_and_publish_brings_it_back(
    client, admin_headers
):
    archived = client.post("/api/v1/admin/categories/serums/archive", headers=admin_headers)
    assert archived.status_code == 200 and archived.json["status"] == "archived"
    assert client.get("/api/v1/categories/serums").status_code == 404
    assert "serums" not in {c["slug"] for c in client.get("/api/v1/categories").json["items"]}
    admin_view = client.get("/api/v1/admin/categories/serums", headers=admin_headers)
    assert admin_view.json["status"] == "archived"

    published = client.post("/api/v1/admin/categories/serums/publish", headers=admin_headers)
    assert published.status_code == 200 and published.json["status"] == "active"
    assert client.get("/api/v1/categories/serums").status_code == 200


def test_archiving_is_audited_once(client, admin_headers):
    client.post("/api/v1/admin/categories/masks/archive", headers=admin_headers)
    client.post("/api/v1/admin/categories/masks/archive", headers=admin_headers)
    entries = client.get("/api/v1/admin/audit?per_page=100", headers=admin_headers).json["items"]
    archives = [e for e in entries if e["action"] == "category.archive"]
    assert len(archives) == 1
    assert archives[0]["before"]["status"] == "active"
    assert archives[0]["after"]["status"] == "archived"


def test_archive_needs_admin(client, staff_headers):
    assert client.post("/api/v1/admin/categories/serums/archive").status_code == 401
    response = client.post("/api/v1/admin/categories/serums/archive", headers=staff_headers)
    assert response.status_code == 403


def test_unknown_category_is_404(client, admin_headers):
    response = client.post("/api/v1/admin/categories/nope/archive", headers=admin_headers)
    assert response.status_code == 404
