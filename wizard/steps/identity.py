"""The registry's service principal (Graph application, service principal, password in the keyring) and its
reader role on the runner repository only (ABAC condition); the registry data plane read with that identity."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from ..azure.errors import azure_call
from ..errors import RefusedError, SecretStoreError, TransientError, WizardError
from ..events import StepProgress, Warning
from ..naming import TAG
from ..secrets import SP_PASSWORD
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, lookup, rest
from .facts import Facts

T = TypeVar("T")
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
CRED_NAME = "studioml-azure"
REPLICATION_WAIT = 120.0  # Entra ID replicates a new object within seconds, at times a minute or two
REPLICATING = ("does not reference a valid application", "PrincipalNotFound", "Request_ResourceNotFound")
ROTATE_DAYS = 30  # a password this close to its end is due for `studioml-azure rotate`


def until_replicated(ctx: Context, step: str, what: str, call: Callable[[], T]) -> T:
    """``call``, again with backoff while the directory has not replicated what it refers to (a new application
    is unknown to ``POST /servicePrincipals`` and ``addPassword`` for a while, a new principal to role assignments),
    for up to :data:`REPLICATION_WAIT` seconds, saying so."""
    started, delay = time.monotonic(), ctx.poll_seconds
    while True:
        try:
            return call()
        except WizardError as err:
            elapsed = time.monotonic() - started
            if not any(w in err.message for w in REPLICATING) or elapsed > REPLICATION_WAIT:
                raise
            ctx.emit(StepProgress(step, f"{what}: waiting for the directory to replicate ({int(elapsed)} s)"))
            ctx.sleep(delay)
            delay = min(delay * 2, 15.0)


def days_left(expires: str, now: datetime | None = None) -> int:
    """Whole days until a Graph ``endDateTime`` (negative once it has passed)."""
    end = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    return (end - (now or datetime.now(UTC))).days


def find_app(ctx: Context) -> dict[str, Any] | None:
    """The install's Graph application (by the journaled object id, else by its ``uniqueName`` alternate key, else,
    for one an earlier version made, by name and tag), if it exists. Reads by id or key see a new object at once;
    a ``$filter`` only once the directory has replicated it."""
    graph = ctx.clients.graph()
    known = ctx.journal.fact("sp", "app_object_id")
    with azure_call("reading the Graph application"):
        for path in ([f"/applications/{known}"] if known else []) + [_keyed(ctx)]:
            found = graph.request("GET", path, ok=(200, 404))
            if isinstance(found, dict) and "id" in found:
                return {str(k): v for k, v in found.items()}
        listed = graph.request("GET", "/applications", params={"$filter": f"displayName eq '{ctx.names.sp}'"})
    apps = [a for a in listed["value"] if f"{TAG}:{ctx.names.uniq_id}" in (a.get("tags") or [])] or listed["value"]
    return dict(apps[0]) if apps else None


def _keyed(ctx: Context) -> str:
    return f"/applications(uniqueName='{ctx.names.sp}')"


def _find_sp(ctx: Context, app_id: str) -> dict[str, Any] | None:
    with azure_call("reading the service principal"):  # by its appId alternate key: no replication lag
        found = ctx.clients.graph().request("GET", f"/servicePrincipals(appId='{app_id}')", ok=(200, 404))
    return dict(found) if isinstance(found, dict) and "id" in found else None


def our_credential(ctx: Context, app: dict[str, Any]) -> dict[str, Any] | None:
    """The password credential whose secret the keyring holds (by the journaled keyId, else by its hint)."""
    password = ctx.secrets.get(SP_PASSWORD)
    if password is None:
        return None
    creds: list[dict[str, Any]] = app.get("passwordCredentials") or []
    key_id = ctx.journal.fact("sp", "key_id")
    by_key = [c for c in creds if c.get("keyId") == key_id]
    if by_key:
        return by_key[0]
    by_hint = [c for c in creds if c.get("displayName") == CRED_NAME and c.get("hint") == password[:3]]
    return by_hint[0] if len(by_hint) == 1 else None


def remove_password(ctx: Context, app: dict[str, Any], key_id: str, what: str) -> None:
    """Remove one password credential of the application (one already gone is fine)."""
    with azure_call(f"removing {what}"):
        ctx.clients.graph().request("POST", f"/applications/{app['id']}/removePassword", json={"keyId": key_id},
                                    ok=(200, 204, 404))


def rotation_pending(ctx: Context, cred: dict[str, Any] | None) -> bool:
    """Whether ``cred`` is the new password of a rotation that has not reached every region yet (``rotate``
    journals it as pending until then)."""
    return cred is not None and ctx.journal.fact("rotate", "pending") == cred.get("keyId")


def add_password(ctx: Context, app: dict[str, Any]) -> dict[str, Any]:
    """A new password credential (a year), kept in the keyring (read back) before anything uses it, and its keyId
    journaled as the one the keyring holds; removed again if the keyring cannot keep it. Returns the credential
    without its secret."""
    end = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    graph = ctx.clients.graph()

    def post() -> Any:
        with azure_call("adding a password to the application"):
            return graph.request("POST", f"/applications/{app['id']}/addPassword",
                                 json={"passwordCredential": {"displayName": CRED_NAME, "endDateTime": end}})

    cred = until_replicated(ctx, "sp", "adding a password", post)
    try:
        ctx.secrets.put(SP_PASSWORD, cred["secretText"])
    except SecretStoreError:
        remove_password(ctx, app, cred["keyId"], "the password the keyring could not keep")
        raise
    finally:
        cred["secretText"] = None
    ctx.journal.record("sp", "fact", key_id=cred["keyId"])
    return {k: v for k, v in cred.items() if k != "secretText"}


class ServicePrincipal(Step):
    """``registry-acr-principal-<id>``: the identity the cluster pulls images with (the seed's SP, without the
    deprecated ``http://`` name)."""

    key, title, needs = "sp", "Service principal for the registry", ()

    def observe(self, ctx: Context) -> Observation:
        """Application, service principal, and a password the keyring holds."""
        res = [Resource("Entra ID application + service principal", ctx.names.sp),
               Resource("password credential", ctx.names.sp, str(ctx.secrets.ref(SP_PASSWORD)))]
        app = find_app(ctx)
        if app is None:
            return Observation(CREATE, "application, service principal, password", res)
        ctx.facts.sp_app_id = app["appId"]
        sp = _find_sp(ctx, app["appId"])
        if sp is not None:
            ctx.facts.sp_object_id = sp["id"]
        ours = our_credential(ctx, app)
        if ours and ours.get("endDateTime") and days_left(ours["endDateTime"]) < ROTATE_DAYS:
            ctx.emit(Warning(self.key, f"the service principal's password ends on {ours['endDateTime'][:10]}; the "
                                       "clusters cannot pull after that: run `studioml-azure rotate`"))
        stale = [c for c in app.get("passwordCredentials") or [] if c.get("displayName") == CRED_NAME and c is not ours]
        if stale and rotation_pending(ctx, ours):
            # A rotation stopped at a region out of reach, whose pull secret still holds the old password: that one
            # stays valid until `rotate` has reached every region and removes it itself.
            ctx.emit(Warning(self.key, "a password rotation is unfinished: the old password stays valid until "
                                       "`studioml-azure rotate` has reached every region"))
            stale = []
        missing = [w for w, ok in (("service principal", sp), ("password", ours)) if not ok]
        if stale:
            missing.append(f"remove {len(stale)} unused password(s)")
        return Observation(UPDATE if missing else NONE, ", ".join(missing), res,
                           {"app": app, "sp": sp, "ours": ours, "stale": stale})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Create what is missing; a new password goes to the keyring (read back) before anything uses it."""
        graph = ctx.clients.graph()
        app = obs.data.get("app") or self._create_app(ctx)
        ctx.facts.sp_app_id = app["appId"]
        sp = obs.data.get("sp") or _find_sp(ctx, app["appId"])
        if sp is None:
            def post() -> Any:
                with azure_call("creating the service principal"):
                    return graph.request("POST", "/servicePrincipals", ok=(201, 409),
                                         json={"appId": app["appId"], "tags": [f"{TAG}:{ctx.names.uniq_id}"]})
            sp = until_replicated(ctx, self.key, "making the service principal", post)
            if not sp or "id" not in sp:  # 409: an earlier request made it
                sp = _find_sp(ctx, app["appId"])
            if sp is None:
                raise TransientError("the directory refused a second service principal but shows none.",
                                     "run again in a minute")
        ctx.facts.sp_object_id = sp["id"]
        for cred in obs.data.get("stale", []):
            remove_password(ctx, app, cred["keyId"], "an unused password credential")
        if obs.data.get("ours") is None:
            add_password(ctx, app)

    def _create_app(self, ctx: Context) -> dict[str, Any]:
        # An upsert by the uniqueName alternate key (Learn, "Upsert application"): a run that died mid-request, or a
        # request whose answer was lost, cannot leave a second application behind; the next one finds it.
        graph = ctx.clients.graph()
        with azure_call("creating the Graph application"):
            app = graph.request("PATCH", _keyed(ctx), headers={"Prefer": "create-if-missing"}, json={
                "displayName": ctx.names.sp, "signInAudience": "AzureADMyOrg",
                "tags": [f"{TAG}:{ctx.names.uniq_id}"],
                "notes": "Pulls studio-go-runner images from the StudioML registry; made by studioml-azure."})
            if not app:  # 204: it existed (an earlier request got through)
                app = graph.request("GET", _keyed(ctx))
        ctx.journal.record(self.key, "fact", app_object_id=app["id"], app_id=app["appId"])
        return dict(app)

    def verify(self, ctx: Context) -> None:
        """The keyring holds the password."""
        if ctx.secrets.get(SP_PASSWORD) is None:
            raise SecretStoreError("the service principal's password is not in the keyring.", "run again")


def repository_condition(repository: str) -> str:
    """The ABAC condition that limits a repository role to reading one repository (the form of "Azure ABAC
    repository permissions in Azure Container Registry", Learn)."""
    reads = ("Microsoft.ContainerRegistry/registries/repositories/content/read",
             "Microsoft.ContainerRegistry/registries/repositories/metadata/read")
    return (f"((!(ActionMatches{{'{reads[0]}'}}) AND !(ActionMatches{{'{reads[1]}'}})) OR "
            f"(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase "
            f"'{repository}'))")


class RoleAssignment(Step):
    """A role for a principal on one scope, with an optional ABAC condition (``principalType`` set, so replication
    delay is no error); assignments of ``replaces`` (a role the registry's mode no longer honours) to the same
    principal there are removed once it exists."""

    def __init__(self, key: str, *, role: str, role_name: str, scope: Callable[[Facts], str | None],
                 principal: Callable[[Facts], str | None], needs: tuple[str, ...], who: str,
                 condition: str | None = None, replaces: str = "") -> None:
        self.key, self.role, self.role_name, self.needs, self.who = key, role, role_name, needs, who
        self.scope, self.principal = scope, principal
        self.condition, self.replaces = condition, replaces
        self.title = f"{role_name} for {who}"

    def observe(self, ctx: Context) -> Observation:
        """Is the role (with its condition) assigned to the principal at the scope? Any replaced role left?"""
        res = [Resource(f"role assignment ({self.role_name})", self.who)]
        scope, principal = self.scope(ctx.facts), self.principal(ctx.facts)
        if not scope or not principal:
            return Observation(CREATE, "", res)
        with azure_call("reading role assignments"):
            found = [rest(a) or {} for a in ctx.clients.authz(ctx.subscription_id).role_assignments.list_for_scope(
                scope, filter=f"principalId eq '{principal}'")]
        have = any(str(lookup(a, "properties.roleDefinitionId", "")).endswith(self.role)
                   and lookup(a, "properties.condition") == self.condition for a in found)
        old = [str(a.get("id")) for a in found if self.replaces and
               str(lookup(a, "properties.roleDefinitionId", "")).endswith(self.replaces)
               and str(lookup(a, "properties.scope", "")).lower() == str(scope).lower()]
        if have and not old:
            return Observation(NONE, "", res)
        detail = "" if not old else f"then remove {len(old)} assignment(s) of a role the registry no longer honours"
        return Observation(UPDATE if have else CREATE, detail, res, {"have": have, "old": old})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Assign (a deterministic name makes a repeated PUT the same assignment), then remove what it replaces."""
        scope, principal = str(self.scope(ctx.facts)), str(self.principal(ctx.facts))
        authz = ctx.clients.authz(ctx.subscription_id)
        if not obs.data.get("have"):
            seed = f"{scope.lower()}|{principal}|{self.role}" + (f"|{self.condition}" if self.condition else "")
            name = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
            role = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{self.role}"
            props: dict[str, Any] = {"roleDefinitionId": role, "principalId": principal,
                                     "principalType": "ServicePrincipal",
                                     "description": f"{self.title} (studioml-azure)"}
            if self.condition:
                props.update(condition=self.condition, conditionVersion="2.0")

            def assign() -> Any:
                with azure_call(f"assigning {self.role_name} to {self.who}"):
                    return authz.role_assignments.create(scope, name, {"properties": props})
            until_replicated(ctx, self.key, f"assigning {self.role_name}", assign)
        for rid in obs.data.get("old", []):
            with azure_call("removing a role assignment the registry no longer honours"):
                authz.role_assignments.delete_by_id(rid)


def token_exchange(challenge: str, url: str) -> dict[str, str]:
    """The parameters of a registry's ``WWW-Authenticate: Bearer`` challenge, refused unless its realm is https on
    the registry's own host: the principal's password goes to the realm, never to a host the answer names."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm, asked = urlsplit(params.get("realm", "")), urlsplit(url)
    if realm.scheme != "https" or realm.netloc.lower() != asked.netloc.lower():
        raise RefusedError(f"the registry {asked.netloc} sent its token exchange to {params.get('realm')!r}, not to "
                           "https on its own host: the password was not sent there.",
                           "check --registry-endpoint and the network between here and the registry")
    return params


def list_tags(ctx: Context, repo: str) -> list[str] | None:
    """The repository's tags through the registry's data plane with the service principal's password;
    ``None`` when this cloud's data plane is not reachable from here or the identity is not ready."""
    template, host = ctx.clients.cloud.registry, ctx.facts.registry_login_server
    password, user = ctx.secrets.get(SP_PASSWORD), ctx.facts.sp_app_id
    if not template or not host or not password or not user:
        return None
    url = template.format(host=host) + f"/v2/{repo}/tags/list"
    verify = ctx.clients.cloud.verify()
    try:
        resp = requests.get(url, auth=(user, password), verify=verify, timeout=30)
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status_code == 401 and challenge.lower().startswith("bearer"):  # the registry token exchange
            params = token_exchange(challenge, url)
            token = requests.get(params["realm"], params={"service": params.get("service", host),
                                                          "scope": f"repository:{repo}:pull"},
                                 auth=(user, password), verify=verify, timeout=30).json()
            resp = requests.get(url, headers={"Authorization": f"Bearer {token.get('access_token') or token['token']}"},
                                verify=verify, timeout=30)
    except requests.RequestException as err:
        raise TransientError(f"the registry {host} could not be reached ({type(err).__name__}).", "run again") from None
    if resp.status_code == 404:
        return []
    if resp.status_code in (401, 403):
        if "sp-role" not in ctx.facts.done:
            return None
        raise NotYetAllowed(f"the registry {host} refused the service principal ({resp.status_code}): a new role "
                            "assignment takes minutes to reach the registry",
                            "run again in a few minutes; if it persists, the keyring's password is stale")
    if resp.status_code != 200:
        raise TransientError(f"the registry {host} answered {resp.status_code}.", "run again")
    return list(resp.json().get("tags") or [])


class NotYetAllowed(TransientError):
    """The registry refuses a principal whose pull role it has not been told of yet."""
