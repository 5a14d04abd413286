"""Retail Prices API (envelope, filters, paging, currency) and the registry data plane."""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema
import requests
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

# azure-specs/prices/README.md: PascalCase envelope, camelCase items.
ENVELOPE = {"type": "object", "required": ["BillingCurrency", "CustomerEntityId", "CustomerEntityType", "Items",
                                           "NextPageLink", "Count"],
            "properties": {"Items": {"type": "array", "maxItems": 100, "items": {"$ref": "#/definitions/item"}},
                           "NextPageLink": {"type": ["string", "null"]}, "Count": {"type": "integer"}},
            "definitions": {"item": {"type": "object", "required": [
                "currencyCode", "retailPrice", "unitPrice", "armRegionName", "location", "effectiveStartDate",
                "meterId", "meterName", "productId", "skuId", "productName", "skuName", "serviceName",
                "serviceFamily", "unitOfMeasure", "type", "armSkuName"],
                "properties": {"retailPrice": {"type": "number"}, "type": {
                    "enum": ["Consumption", "DevTestConsumption", "Reservation"]}}}}}


def _get(sandbox: Any, url: str, **params: str) -> dict[str, Any]:
    resp = requests.get(url, params=params or None, verify=sandbox.info["ca_bundle"], timeout=10)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    jsonschema.validate(body, ENVELOPE)
    assert body["Count"] == len(body["Items"])
    return body


def test_prices_filter_and_paging(sandbox: Any) -> None:
    url = sandbox.info["prices"]
    flt = ("serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and "
           "armSkuName eq 'Standard_NC4as_T4_v3'")
    page = _get(sandbox, url, **{"api-version": "2023-01-01-preview", "$filter": flt})
    kinds = {(i["type"], i["productName"].endswith("Windows"), i["skuName"]) for i in page["Items"]}
    assert ("Consumption", False, "NC4as T4 v3") in kinds and ("Reservation", False, "NC4as T4 v3") in kinds
    assert any(i["skuName"].endswith("Spot") for i in page["Items"])
    assert page["NextPageLink"] is None
    assert _get(sandbox, url, **{"api-version": "2023-01-01-preview",
                                 "$filter": "serviceName eq 'virtual machines'"})["Items"] == []
    seen, link, pages = 0, f"{url}?$filter=serviceName eq 'Virtual Machines' and armRegionName eq 'eastus'", 0
    while link:
        body = _get(sandbox, link)
        seen += body["Count"]
        pages += 1
        link = body["NextPageLink"]
    assert pages >= 2 and seen > 100
    euro = _get(sandbox, url, currencyCode="'EUR'", **{"$filter": flt})
    assert euro["BillingCurrency"] == "EUR" and euro["Items"][0]["currencyCode"] == "EUR"
    bad = requests.get(url, params={"$filter": "nonsense"}, verify=sandbox.info["ca_bundle"], timeout=10)
    assert bad.status_code == 400


def test_registry_tags_after_import(arm: Any, sandbox: Any) -> None:
    sub = sandbox.info["subscriptions"][0]
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-data", {"location": "eastus"})
    acr = arm(ContainerRegistryManagementClient, sub)
    name = f"leafaidata{uuid.uuid4().hex[:6]}"
    reg = acr.registries.begin_create("rg-data", name, {"location": "eastus", "sku": {"name": "Basic"}}).result()
    acr.registries.begin_import_image("rg-data", name, {
        "source": {"registryUri": "quay.io", "sourceImage": "leafai/studio-go-runner:0.9.21"},
        "targetTags": [f"{name}/studio-go-runner:0.9.21"]}).result()
    base, ca = f"{sandbox.info['registry']}/{reg.login_server}", sandbox.info["ca_bundle"]
    assert requests.get(f"{base}/v2/_catalog", verify=ca, timeout=10).status_code == 401
    creds = acr.registries.list_credentials("rg-data", name)
    admin = (creds.username, creds.passwords[0].value)
    assert requests.get(f"{base}/v2/_catalog", auth=admin, verify=ca, timeout=10).status_code == 401  # admin off
    acr.registries.begin_update("rg-data", name, {"properties": {"adminUserEnabled": True}}).result()
    tags = requests.get(f"{base}/v2/{name}/studio-go-runner/tags/list", auth=admin, verify=ca, timeout=10).json()
    assert tags == {"name": f"{name}/studio-go-runner", "tags": ["0.9.21"]}
