"""/api/v1/openapi.json lists every endpoint; /api/v1/docs works without the internet."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("get", "/api/v1/blocks"),
    ("get", "/api/v1/blocks/{slug}"),
    ("get", "/api/v1/workflows"),
    ("post", "/api/v1/workflows"),
    ("get", "/api/v1/workflows/{workflow_id}"),
    ("put", "/api/v1/workflows/{workflow_id}"),
    ("delete", "/api/v1/workflows/{workflow_id}"),
    ("post", "/api/v1/workflows/{workflow_id}/steps"),
    ("put", "/api/v1/workflows/{workflow_id}/steps/{step_name}"),
    ("delete", "/api/v1/workflows/{workflow_id}/steps/{step_name}"),
    ("post", "/api/v1/workflows/{workflow_id}/edges"),
    ("delete", "/api/v1/workflows/{workflow_id}/edges/{edge_id}"),
    ("post", "/api/v1/workflows/{workflow_id}/validate"),
    ("post", "/api/v1/workflows/{workflow_id}/runs"),
    ("get", "/api/v1/workflows/{workflow_id}/runs"),
    ("get", "/api/v1/runs/{run_id}"),
    ("post", "/api/v1/runs/{run_id}/cancel"),
    ("post", "/api/v1/runs/{run_id}/steps/{step_run_id}/retry"),
}


def test_the_openapi_document_lists_every_endpoint(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    listed = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert listed >= ENDPOINTS
    assert {"BearerTokenAuth", "ActiveSessionAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_document_schema_is_described(client):
    schema = client.get("/api/v1/openapi.json").json()
    document = schema["components"]["schemas"]["WorkflowDocumentIn"]
    assert document["required"] == ["name"]
    assert document["additionalProperties"] is False


def test_the_docs_page_uses_only_local_assets(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "https://" not in html
    assert '"validatorUrl": null' in html
