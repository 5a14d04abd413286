"""Assemble and run the sandbox: one HTTPS listener on 127.0.0.1 serving every cloud endpoint.

Paths: ``/{tenant}/...`` the Entra ID authority, ``/graph/v1.0/...`` Microsoft Graph,
``/api/retail/prices`` the Retail Prices API, ``/_registry/{loginServer}/v2/...`` registry data planes,
``/k8s/{cluster}/...`` the Kubernetes API servers, and everything else ARM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from . import authority, graph, prices, registry
from .arm import rbac, router
from .arm.base import ArmError, Sandbox
from .crypto import Pki
from .faults import Faults
from .kube import controllers
from .kube import server as kube_server
from .store import Store, admin_secret

UNFAULTED = ("/sandbox/", "/k8s/", "/devicelogin")
AUTHORITY_PARTS = ("/oauth2/", "/.well-known/", "/discovery/")


@dataclass
class Endpoints:
    """What a client needs to reach a running sandbox."""

    arm: str
    authority: str
    graph: str
    prices: str
    registry: str
    ca_bundle: str
    tenant_id: str
    subscriptions: list[str]
    client_id: str
    client_secret: str

    def as_json(self) -> dict[str, Any]:
        """The ready line's document."""
        return dict(self.__dict__)


def endpoints_at(base: str, directory: Path, data: dict[str, Any]) -> Endpoints:
    """What a client needs to reach the sandbox of ``directory`` (state ``data``) served at ``base``."""
    return Endpoints(arm=base, authority=base, graph=f"{base}/graph", prices=f"{base}/api/retail/prices",
                     registry=f"{base}/_registry", ca_bundle=str(directory / "pki" / "ca.pem"),
                     tenant_id=data["meta"]["tenant_id"],
                     subscriptions=[s["subscriptionId"] for s in data["subscriptions"]],
                     client_id=data["meta"]["admin_client_id"], client_secret=admin_secret(directory))


def _fault_middleware(faults: Faults) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if path.startswith(UNFAULTED) or any(p in path for p in AUTHORITY_PARTS):
            return await handler(request)  # type: ignore[no-any-return]
        kind = faults.roll()
        sbx: Sandbox = request.app["sandbox"]
        if kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client: the connection is gone
        if kind is None:
            return await handler(request)  # type: ignore[no-any-return]
        status = int(kind)
        code = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}[status]
        message = f"The service answered {status} (injected fault)."
        headers = sbx.retry_after(sbx.scaled(5.0)) if status == 429 else {}
        if path.startswith("/graph/"):
            return graph.GraphError(status, code, message, headers).response()
        return ArmError(status, code, message, headers=headers).response()
    return middleware


REQUEST_LOG_SIZE = 20000


@web.middleware
async def _request_log(request: web.Request, handler: Any) -> web.StreamResponse:
    """Keep the method, path and status of every request (no bodies, no query: nothing secret) for
    ``GET /sandbox/requests``; tests use it to prove a re-run writes nothing."""
    response: web.StreamResponse = await handler(request)
    if not request.path.startswith("/sandbox/"):
        log: list[list[Any]] = request.app["request_log"]
        log.append([request.method, request.path, response.status])
        del log[:-REQUEST_LOG_SIZE]
    return response


async def _requests(request: web.Request) -> web.Response:
    """GET lists the logged requests; DELETE empties the log."""
    log: list[list[Any]] = request.app["request_log"]
    if request.method == "DELETE":
        log.clear()
        return web.json_response({"requests": []})
    return web.json_response({"requests": log})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "pid": os.getpid()})  # `sandbox stop` signals only this pid


async def _set_faults(request: web.Request) -> web.Response:
    """POST /sandbox/faults with ``spec=...`` replaces the fault plan (tests use it mid-run)."""
    spec = str((await request.post()).get("spec", ""))
    new = Faults.parse(spec)
    faults: Faults = request.app["faults"]
    faults.rates, faults.rng = new.rates, new.rng
    request.app["sandbox"].lro_fail_rate = new.rates.get("lro_fail", 0.0)
    return web.json_response({"rates": new.rates})


async def _downloads(request: web.Request) -> web.Response:
    """What the internet serves the VMs, changed by tests: ``POST {"url", "status"?, "content"?}`` makes a URL answer
    that status (410 for a host that stopped serving) or those bytes (a tampered mirror); ``{"url", "reset": true}``
    restores it. GET lists the changes."""
    sbx: Sandbox = request.app["sandbox"]
    overrides: dict[str, Any] = sbx.store.data.setdefault("downloads", {})
    if request.method == "POST":
        body = await request.json()
        if body.get("reset"):
            overrides.pop(str(body["url"]), None)
        else:
            overrides[str(body["url"])] = {k: body[k] for k in ("status", "content", "reason") if k in body}
        sbx.store.save()
    return web.json_response({"downloads": overrides})


async def _upstream(request: web.Request) -> web.Response:
    """The public registries' limits, changed by tests: ``POST {"anonymous_per_hour": n, "forget": true}``."""
    from .arm import upstream

    body = await request.json() if request.method == "POST" else {}
    return web.json_response(upstream.configure(request.app["sandbox"], body))


async def _identity(request: web.Request) -> web.Response:
    """The directory's side of a sign-in, changed by tests: ``POST {"token_lifetime": seconds}`` issues access tokens
    that last that long from now on (Entra ID's configurable token lifetime; the sandbox allows less than Azure's 10
    minutes so that a token's hour passes within a test); ``{"revoke_secrets": "<appId>"}`` removes an application's
    client secrets, as ``az ad app credential delete`` does: tokens already issued stay valid until they expire, as
    Entra ID's do, and the next token request is refused with AADSTS7000215."""
    sbx: Sandbox = request.app["sandbox"]
    body = await request.json()
    meta = sbx.store.meta
    if "token_lifetime" in body:
        meta["token_lifetime"] = max(5, int(body["token_lifetime"]))
    app_id = str(body.get("revoke_secrets", ""))
    if app_id:
        meta.setdefault("revoked_apps", []).append(app_id)
        data = sbx.store.data
        data["app_secrets"] = {k: v for k, v in data["app_secrets"].items() if v["appId"] != app_id}
    sbx.store.save()
    return web.json_response({"token_lifetime": meta.get("token_lifetime"), "revoked": meta.get("revoked_apps", [])})


async def _spot(request: web.Request) -> web.Response:
    """Azure taking Spot capacity back, driven by tests: ``POST {"cluster_id", "pool", "evict": n}`` evicts n nodes
    of that Spot pool now; ``{"cluster_id", "pool", "rate_per_hour": r}`` evicts at random at that rate."""
    from .arm.aks import kube_key
    from .kube.autoscale import evict
    from .kube.objects import Cluster

    sbx: Sandbox = request.app["sandbox"]
    body = await request.json()
    rec = sbx.get_resource(str(body["cluster_id"]))
    key = kube_key(str(body["cluster_id"]))
    if rec is None or key not in sbx.store.data["kube"]:
        return web.json_response({"error": "no such cluster"}, status=404)
    cluster = Cluster(sbx, key)
    if "rate_per_hour" in body:
        cluster.state.setdefault("spot_rates", {})[str(body["pool"])] = float(body["rate_per_hour"])
    evicted = evict(cluster, rec, str(body["pool"]), int(body.get("evict", 0))) if body.get("evict") else []
    sbx.store.save()
    return web.json_response({"evicted": evicted})


async def _queues(request: web.Request) -> web.Response:
    """Messages waiting in a queue of a VM's RabbitMQ, set by tests: ``POST {"vm_id", "queue", "messages": n}``."""
    from . import guest
    from .guest.services import set_queue

    sbx: Sandbox = request.app["sandbox"]
    body = await request.json()
    m = guest.machine(sbx, str(body["vm_id"]))
    if m is None:
        return web.json_response({"error": "no such VM"}, status=404)
    set_queue(m, str(body["queue"]), int(body["messages"]))
    sbx.store.save()
    return web.json_response({"queues": (m.broker or {}).get("queues", {})})


async def _capacity(request: web.Request) -> web.Response:
    """A region out of room for a VM size, set by tests: ``POST {"region", "size", "full": true|false}``; while full,
    a cluster or pool that must add VMs of that size there fails with AllocationFailed."""
    sbx: Sandbox = request.app["sandbox"]
    body = await request.json()
    faults: list[str] = sbx.store.data.setdefault("capacity_faults", [])
    key = f"{body['region']}/{body['size']}".lower()
    if body.get("full", True) and key not in faults:
        faults.append(key)
    elif not body.get("full", True) and key in faults:
        faults.remove(key)
    sbx.store.save()
    return web.json_response({"capacity_faults": faults})


async def _reach(request: web.Request) -> web.Response:
    """Whether an experimenter at an internet address reaches a service: ``POST {"from": "203.0.113.7", "host":
    "<public IP or its DNS name>", "port": 5671}`` -> ``{"reachable": bool, "state": "open|refused|timeout", "why"}``.
    The NSGs decide (the address is the client's), then what the VM's guest listens on."""
    from .guest import machine as guest_machine
    from .guest.network import from_internet
    from .guest.services import listening

    body = await request.json()
    sbx: Sandbox = request.app["sandbox"]
    state, vm, why = from_internet(sbx, str(body["from"]), str(body["host"]), int(body["port"]))
    if state == "open" and vm is not None:
        m = guest_machine(sbx, vm["id"])
        if m is None or int(body["port"]) not in listening(m):
            state, why = "refused", f"{why}; nothing listens on {body['port']} (connection refused)"
    return web.json_response({"reachable": state == "open", "state": state, "why": why})


async def _metadata(request: web.Request) -> web.Response:
    """ARM's anonymous cloud metadata (``GET /metadata/endpoints?api-version=2022-09-01``), which ``az cloud
    register``, Terraform and azd read to learn a cloud's endpoints: the public cloud's shape with this sandbox's
    Resource Manager, authority and Graph in place of Azure's (suffixes as the public cloud's)."""
    sbx: Sandbox = request.app["sandbox"]
    if not request.query.get("api-version"):
        return web.json_response({"error": {"code": "MissingApiVersionParameter", "message": "The api-version query "
                                            "parameter (?api-version=) is required for all requests."}}, status=400)
    base = sbx.base_url
    return web.json_response({
        "name": "AzureCloud", "portal": "https://portal.azure.com", "resourceManager": f"{base}/",
        "authentication": {"loginEndpoint": f"{base}/", "audiences": ["https://management.core.windows.net/",
                                                                       "https://management.azure.com/"],
                           "tenant": "common", "identityProvider": "AAD"},
        "microsoftGraphResourceId": f"{base}/graph/", "graph": "https://graph.windows.net/",
        "graphAudience": "https://graph.windows.net/", "gallery": "https://gallery.azure.com/",
        "batch": "https://batch.core.windows.net/", "media": "https://rest.media.azure.net",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/"
                           "quickstart-templates/aliases.json",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net", "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io", "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        "suffixes": {"acrLoginServer": "azurecr.io", "keyVaultDns": "vault.azure.net", "storage": "core.windows.net",
                     "sqlServerHostname": "database.windows.net", "mhsmDns": "managedhsm.azure.net",
                     "mysqlServerEndpoint": "mysql.database.azure.com",
                     "postgresqlServerEndpoint": "postgres.database.azure.com",
                     "mariadbServerEndpoint": "mariadb.database.azure.com", "synapseAnalytics": "dev.azuresynapse.net",
                     "attestationEndpoint": "attest.azure.net", "storageSyncEndpointSuffix": "afs.azure.net",
                     "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
                     "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
                     "azureFrontDoorEndpointSuffix": "azurefd.net"}})


def build_app(sbx: Sandbox, faults: Faults) -> web.Application:
    """The aiohttp application with every route."""
    app = web.Application(middlewares=[_request_log, _fault_middleware(faults)], client_max_size=8 * 1024 * 1024)
    app["sandbox"], app["faults"], app["request_log"] = sbx, faults, []
    app.router.add_get("/sandbox/health", _health)
    app.router.add_get("/metadata/endpoints", _metadata)
    app.router.add_get("//metadata/endpoints", _metadata)  # az appends it to the endpoint it is given, trailing / too
    app.router.add_post("/sandbox/faults", _set_faults)
    app.router.add_route("GET", "/sandbox/requests", _requests)
    app.router.add_route("*", "/sandbox/downloads", _downloads)
    app.router.add_route("*", "/sandbox/upstream", _upstream)
    app.router.add_route("POST", "/sandbox/identity", _identity)
    app.router.add_route("POST", "/sandbox/spot", _spot)
    app.router.add_route("POST", "/sandbox/capacity", _capacity)
    app.router.add_route("POST", "/sandbox/queues", _queues)
    app.router.add_post("/sandbox/reach", _reach)
    app.router.add_route("DELETE", "/sandbox/requests", _requests)
    app.router.add_route("*", "/devicelogin", authority.device_login)
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", authority.openid_configuration)
    app.router.add_get("/{tenant}/discovery/v2.0/keys", authority.keys)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", authority.token)
    app.router.add_post("/{tenant}/oauth2/v2.0/devicecode", authority.device_code)
    app.router.add_route("*", "/graph/{tail:.*}", graph.handle)
    app.router.add_get("/api/retail/prices", prices.handle)
    app.router.add_route("*", "/_registry/{host}/{tail:.*}", registry.handle)
    app.router.add_route("*", "/k8s/{key}/{tail:.*}", kube_server.handle)
    app.router.add_route("*", "/{tail:.*}", router.handle)
    return app


class SandboxServer:
    """A running sandbox: start it, read its endpoints, stop it."""

    def __init__(self, directory: Path, *, speed: float = 1.0, faults: str | None = None, port: int = 0,
                 device_approve_seconds: float | None = None) -> None:
        self.directory = directory
        self.store = Store(directory)
        if rbac.seed_admin_roles(self.store.data):
            self.store.save()
        self.pki = Pki.load_or_create(directory)
        self.faults = Faults.parse(faults)
        self.sbx = Sandbox(self.store, self.pki, speed=speed, lro_fail_rate=self.faults.rates.get("lro_fail", 0.0))
        if self.faults.seed is not None:
            self.sbx.rng.seed(self.faults.seed + 1)
        if device_approve_seconds is not None:
            self.sbx.device_approve_seconds = device_approve_seconds
        else:
            self.sbx.device_approve_seconds = max(1.0, 20.0 / speed) if speed > 0 else 1.0
        self.port = port
        self.runner: web.AppRunner | None = None

    async def start(self) -> Endpoints:
        """Bind (reusing the last port when free) and start serving."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.pki.server_cert_path, self.pki.server_key_path)
        ctx.load_verify_locations(self.pki.ca_path)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        app = build_app(self.sbx, self.faults)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=3.0)
        await self.runner.setup()
        candidates = [self.port] if self.port else [self.store.meta.get("last_port") or 0, 0]
        site = None
        for port in candidates:
            try:
                site = web.TCPSite(self.runner, "127.0.0.1", port, ssl_context=ctx, reuse_address=True)
                await site.start()
                break
            except OSError:
                if port == candidates[-1]:
                    raise
        assert site is not None and site._server is not None
        bound = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        self.sbx.base_url = f"https://127.0.0.1:{bound}"
        self.store.meta["last_port"] = bound
        self.store.save()
        app["kube_task"] = asyncio.get_running_loop().create_task(controllers.run(self.sbx))
        return self.endpoints()

    def endpoints(self) -> Endpoints:
        """The endpoints of the running server."""
        return endpoints_at(self.sbx.base_url, self.directory, self.store.data)

    async def stop(self) -> None:
        """Stop serving and save."""
        if self.runner is not None:
            await kube_server.close_watchers()
            task = self.runner.app.get("kube_task")
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.runner.cleanup()
        self.store.save()


async def _serve_forever(server: SandboxServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    endpoints = await server.start()
    pid_file = server.directory / "serve.pid"
    pid_file.write_text(str(os.getpid()))
    sys.stdout.write(json.dumps(endpoints.as_json()) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
        await server.stop()
    finally:
        if pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()


def serve(directory: Path, *, speed: float, faults: str | None, port: int) -> int:
    """Run until SIGTERM or SIGINT; print the ready line first. Returns the exit code."""
    server = SandboxServer(directory, speed=speed, faults=faults, port=port)
    asyncio.run(_serve_forever(server))
    return 0
