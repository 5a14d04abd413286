"""The official azure-mgmt-* clients, Microsoft Graph over azure-core, and plain HTTPS, for one cloud; each behind
the one error boundary (:mod:`.guard`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest, HttpResponse

from .. import __version__
from .cloud import Cloud
from .guard import guarded

if TYPE_CHECKING:  # the SDKs are imported when a client is first asked for: the TUI draws before they load
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.subscription import SubscriptionClient

USER_AGENT = f"studioml-azure/{__version__}"


class Clients:
    """Builds SDK clients for one cloud and credential; every client gets the same endpoints and CA bundle."""

    def __init__(self, cloud: Cloud, credential: TokenCredential, *, polling_interval: float | None = None,
                 response_hook: Callable[[Any], None] | None = None) -> None:
        self.cloud = cloud
        self.credential = credential
        self.polling_interval = polling_interval
        self.response_hook = response_hook  # azure-core's raw_response_hook, to watch every ARM answer
        self._made: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, cls: Any, sub: str | None = None) -> Any:
        """One client per class and subscription, kept: Azure SDK clients are thread-safe, and reusing them keeps
        their connections (and TLS sessions) warm across steps."""
        key = (cls.__name__, sub or "")
        with self._lock:
            if key not in self._made:
                args = (self.credential, sub) if sub is not None else (self.credential,)
                self._made[key] = guarded(cls(*args, **self._kw()))
            return self._made[key]

    def _kw(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"base_url": self.cloud.arm, "credential_scopes": [self.cloud.arm_scope],
                              "user_agent": USER_AGENT}
        if self.cloud.ca_bundle:
            kw["connection_verify"] = self.cloud.ca_bundle
        if self.polling_interval is not None:
            kw["polling_interval"] = self.polling_interval
        if self.response_hook is not None:
            kw["raw_response_hook"] = self.response_hook
        return kw

    def subscriptions(self) -> SubscriptionClient:
        """Subscriptions and tenants."""
        from azure.mgmt.subscription import SubscriptionClient

        client: SubscriptionClient = self._client(SubscriptionClient)
        return client

    def resources(self, sub: str) -> ResourceManagementClient:
        """Resource groups and providers."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        client: ResourceManagementClient = self._client(ResourceManagementClient, sub)
        return client

    def acr(self, sub: str) -> ContainerRegistryManagementClient:
        """Container registries."""
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        client: ContainerRegistryManagementClient = self._client(ContainerRegistryManagementClient, sub)
        return client

    def aks(self, sub: str) -> ContainerServiceClient:
        """Managed clusters."""
        from azure.mgmt.containerservice import ContainerServiceClient

        client: ContainerServiceClient = self._client(ContainerServiceClient, sub)
        return client

    def compute(self, sub: str) -> ComputeManagementClient:
        """VMs, SKUs, usages."""
        from azure.mgmt.compute import ComputeManagementClient

        client: ComputeManagementClient = self._client(ComputeManagementClient, sub)
        return client

    def network(self, sub: str) -> NetworkManagementClient:
        """VNets, subnets, NSGs, NICs."""
        from azure.mgmt.network import NetworkManagementClient

        client: NetworkManagementClient = self._client(NetworkManagementClient, sub)
        return client

    def authz(self, sub: str) -> AuthorizationManagementClient:
        """Role assignments."""
        from azure.mgmt.authorization import AuthorizationManagementClient

        client: AuthorizationManagementClient = self._client(AuthorizationManagementClient, sub)
        return client

    def graph(self) -> RestClient:
        """Microsoft Graph v1.0 with a bearer token for the cloud's Graph audience (behind the same boundary)."""
        client: RestClient = guarded(RestClient(self.cloud.graph.rstrip("/") + "/v1.0", self.cloud,
                                                BearerTokenCredentialPolicy(self.credential, self.cloud.graph_scope)),
                                     "Microsoft Graph")
        return client


class RestClient:
    """A small JSON client on the azure-core pipeline (retries honouring Retry-After included)."""

    def __init__(self, base_url: str, cloud: Cloud, auth: Any | None, headers: dict[str, str] | None = None) -> None:
        policies: list[Any] = [HeadersPolicy(headers or {}), UserAgentPolicy(USER_AGENT), RetryPolicy()]
        if auth is not None:
            policies.append(auth)
        transport = RequestsTransport(connection_verify=cloud.verify(), connection_timeout=30, read_timeout=60)
        self.base_url = base_url
        self._client: PipelineClient[HttpRequest, HttpResponse] = PipelineClient(base_url, policies=policies,
                                                                                transport=transport)

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
                ok: tuple[int, ...] = (200, 201, 204), headers: dict[str, str] | None = None) -> Any:
        """Send and return the JSON answer (``None`` for an empty one); other statuses raise HttpResponseError."""
        url = path if path.startswith("https://") else self.base_url + path
        response = self._client.send_request(HttpRequest(method, url, json=json, params=params, headers=headers))
        if response.status_code not in ok:
            raise HttpResponseError(response=response)
        return response.json() if response.content else None
