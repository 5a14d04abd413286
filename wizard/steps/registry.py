"""Resource providers, the registry's resource group, the ACR and the runner image imported into it."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ..answers import image_parts
from ..azure.clients import Clients
from ..azure.errors import azure_call
from ..errors import InterruptedRun, LimitReached, RefusedError, TransientError, WizardError
from ..events import StepProgress
from ..naming import Names
from ..secrets import SOURCE_TOKEN
from ..source import credentials, fix_hint
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing
from .identity import NotYetAllowed, list_tags

PULL_WAIT = 600.0  # a new role assignment can take up to 10 minutes to take effect (Azure RBAC troubleshooting)

# Set explicitly, never left to a default: ABAC-enabled repository permissions, which Microsoft recommends and
# will make the default; AcrPull is not honoured there, so the puller gets a repository role (plan.py).
ROLE_MODE = "AbacRepositoryPermissions"
PROVIDERS = ("Microsoft.ContainerRegistry", "Microsoft.ContainerService", "Microsoft.Compute", "Microsoft.Network")


class Providers(Step):
    """Register the resource providers the install uses (a new subscription may not have them)."""

    key, title, needs = "providers", "Register resource providers", ()

    def observe(self, ctx: Context) -> Observation:
        """Which providers are not registered yet."""
        rm = ctx.clients.resources(ctx.subscription_id)
        with azure_call("reading resource providers"):
            missing = [ns for ns in PROVIDERS if rm.providers.get(ns).registration_state != "Registered"]
        ctx.facts.providers_missing = missing
        return Observation(UPDATE if missing else NONE, ", ".join(missing) or "all registered",
                           [Resource("provider", ns) for ns in PROVIDERS], {"missing": missing})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Register and wait until Azure says Registered."""
        rm = ctx.clients.resources(ctx.subscription_id)
        for ns in obs.data["missing"]:
            with azure_call(f"registering {ns}"):
                rm.providers.register(ns)
        for ns in obs.data["missing"]:
            while True:
                with azure_call(f"registering {ns}"):
                    state = rm.providers.get(ns).registration_state
                if state == "Registered":
                    break
                ctx.emit(StepProgress(self.key, f"{ns}: {state}"))
                ctx.sleep(ctx.poll_seconds)
        ctx.facts.providers_missing = []


class ResourceGroup(Step):
    """A tagged resource group."""

    def __init__(self, key: str, name: str, location: str, needs: tuple[str, ...] = ("providers",)) -> None:
        self.key, self.name, self.location, self.needs = key, name, location, needs
        self.title = f"Resource group {name}"

    def observe(self, ctx: Context) -> Observation:
        """Exists, with our tags?"""
        rm = ctx.clients.resources(ctx.subscription_id)
        group = rest(get_or_none(lambda: rm.resource_groups.get(self.name), f"reading group {self.name}"))
        res = [Resource("resource group", self.name, lookup(group, "id", ""))]
        if group is None:
            return Observation(CREATE, f"in {self.location}", res)
        if group["location"] != self.location:
            raise RefusedError(f"resource group {self.name} exists in {group['location']}, not {self.location}.",
                               f"answer region = \"{group['location']}\", or delete the group")
        ctx.facts.group_ids[self.key] = group["id"]
        return Observation(UPDATE if tags_missing(group.get("tags"), ctx.tags) else NONE, "", res,
                           {"tags": group.get("tags") or {}})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Create or re-tag."""
        rm = ctx.clients.resources(ctx.subscription_id)
        with azure_call(f"creating resource group {self.name}"):
            group = rm.resource_groups.create_or_update(
                self.name, {"location": self.location, "tags": {**obs.data.get("tags", {}), **ctx.tags}})
        ctx.facts.group_ids[self.key] = str(group.id)


REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"


def free_id(clients: Clients, sub: str, uniq_id: str) -> str:
    """An install id whose registry name is free, the same every time it is asked for the same taken id (so plan and
    apply suggest the same one): the first free of md5(uniq_id-n)[:8], n = 1, 2, ..."""
    acr = clients.acr(sub)
    for n in range(1, 11):
        candidate = hashlib.md5(f"{uniq_id}-{n}".encode(), usedforsecurity=False).hexdigest()[:8]
        with azure_call("checking registry names"):
            if acr.registries.check_name_availability({"name": f"leafai{candidate}", "type": REGISTRY_TYPE}
                                                      ).name_available:
                return candidate
    return hashlib.md5(f"{uniq_id}-11".encode(), usedforsecurity=False).hexdigest()[:8]


def name_taken(clients: Clients, sub: str, names: Names, check: Any) -> RefusedError:
    """The refusal for a registry name another Azure customer holds, with a free id to use instead."""
    return RefusedError(f"the registry name {names.registry} is taken by another Azure customer "
                        f"({check.message or check.reason}).",
                        f"choose another uniq_id, for example uniq_id = \"{free_id(clients, sub, names.uniq_id)}\"",
                        "AlreadyInUse")


def check_registry_name(clients: Clients, sub: str, names: Names) -> None:
    """Before anything is made: the install's registry exists here, or its (global) name is free."""
    acr = clients.acr(sub)
    if get_or_none(lambda: acr.registries.get(names.registry_rg, names.registry), "reading the registry") is not None:
        return
    try:
        with azure_call("checking the registry name"):
            check = acr.registries.check_name_availability({"name": names.registry, "type": REGISTRY_TYPE})
    except RefusedError as err:
        if "Registration" in (err.code or "") or "not registered" in err.message:
            return  # the provider is registered by the run; the registry step checks the name then
        raise
    if not check.name_available:
        raise name_taken(clients, sub, names, check)


class Registry(Step):
    """The ACR (Basic), admin user off unless asked for, its role assignment mode explicit."""

    key, title, needs = "registry", "Container registry", ("registry-group",)

    def observe(self, ctx: Context) -> Observation:
        """Exists? Admin user and tags as answered?"""
        acr = ctx.clients.acr(ctx.subscription_id)
        name, rg = ctx.names.registry, ctx.names.registry_rg
        reg = rest(get_or_none(lambda: acr.registries.get(rg, name), f"reading registry {name}"))
        res = [Resource("container registry (Basic)", name, lookup(reg, "id", ""),
                        cost_item="container registry (Basic)")]
        if reg is None and "Microsoft.ContainerRegistry" in ctx.facts.providers_missing:
            return Observation(CREATE, "Basic SKU (the name is checked once the provider is registered)", res)
        if reg is None:
            with azure_call("checking the registry name"):
                check = acr.registries.check_name_availability(
                    {"name": name, "type": "Microsoft.ContainerRegistry/registries"})
            if not check.name_available:
                raise name_taken(ctx.clients, ctx.subscription_id, ctx.names, check)
            return Observation(CREATE, "Basic SKU, ABAC repository permissions"
                               + (", admin user on" if ctx.answers.admin_user else ""), res)
        self._remember(ctx, reg)
        admin = bool(lookup(reg, "properties.adminUserEnabled"))
        changes = []
        if lookup(reg, "properties.roleAssignmentMode", "LegacyRegistryPermissions") != ROLE_MODE:
            changes.append("role assignment mode: ABAC repository permissions")
        if admin != ctx.answers.admin_user:
            changes.append(f"admin user {'on' if ctx.answers.admin_user else 'off'}")
        if tags_missing(reg.get("tags"), ctx.tags):
            changes.append("tags")
        return Observation(UPDATE if changes else NONE, ", ".join(changes), res, {"tags": reg.get("tags") or {}})

    def _remember(self, ctx: Context, reg: dict[str, Any]) -> None:
        ctx.facts.registry_id = reg["id"]
        ctx.facts.registry_login_server = lookup(reg, "properties.loginServer")

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Create, or converge the admin user and tags."""
        acr = ctx.clients.acr(ctx.subscription_id)
        name, rg = ctx.names.registry, ctx.names.registry_rg
        if ctx.answers.admin_user:
            ctx.warn(self.key, "the registry's admin user is on: anyone with its password can push and pull; "
                               "prefer the service principal")
        if obs.action == CREATE:
            create = {"location": ctx.names.home_region, "sku": {"name": "Basic"}, "tags": ctx.tags,
                      "properties": {"adminUserEnabled": ctx.answers.admin_user, "roleAssignmentMode": ROLE_MODE}}
            reg = rest(ctx.wait(self.key, lambda: acr.registries.begin_create(rg, name, create),
                                f"creating registry {name}"))
        else:
            update = {"tags": {**obs.data.get("tags", {}), **ctx.tags},
                      "properties": {"adminUserEnabled": ctx.answers.admin_user, "roleAssignmentMode": ROLE_MODE}}
            reg = rest(ctx.wait(self.key, lambda: acr.registries.begin_update(rg, name, update),
                                f"updating registry {name}"))
        assert reg is not None
        self._remember(ctx, reg)


class Image(Step):
    """The runner image imported into the ACR server-side (as ``az acr import``), then its tags listed."""

    key, title, needs = "image", "Runner image in the registry", ("registry", "sp-role")

    def target(self, ctx: Context) -> tuple[str, str, str, str]:
        """(source host, source repo:tag, target repository, tag): the seed's ``<registry>/studio-go-runner``."""
        host, repo, tag = image_parts(ctx.answers.runner_image)
        module = repo.rsplit("/", 1)[-1]
        return host, f"{repo}:{tag}", f"{ctx.names.registry}/{module}", tag

    def observe(self, ctx: Context) -> Observation:
        """Is the tag already in the registry?"""
        host, source, repo, tag = self.target(ctx)
        res = [Resource("image", f"{repo}:{tag}")]
        try:
            tags = self._tags(ctx, repo) if ctx.facts.registry_id else None
        except NotYetAllowed:  # the pull role has not reached the registry yet: verify waits for it
            tags = None
        if tags is None:  # the data plane cannot tell (not reachable, or not yet allowed): the journal says
            done = ctx.journal.fact(self.key, "imported") == f"{ctx.facts.registry_id}|{repo}:{tag}"
            return Observation(NONE if done else CREATE, f"from {host}/{source}", res)
        return Observation(NONE if tag in tags else CREATE, f"from {host}/{source}", res)

    def _tags(self, ctx: Context, repo: str) -> list[str] | None:
        return list_tags(ctx, repo)

    def apply(self, ctx: Context, obs: Observation) -> None:
        """ACR importImage, with the source registry's user and token when answered; the SDK follows the 202 until
        the copy is done."""
        host, source, repo, tag = self.target(ctx)
        acr = ctx.clients.acr(ctx.subscription_id)
        creds = credentials(ctx.answers, ctx.secrets)
        body: dict[str, Any] = {"source": {"registryUri": host, "sourceImage": source}, "targetTags": [f"{repo}:{tag}"],
                                "mode": "Force"}
        if creds is not None:
            body["source"]["credentials"] = creds
        try:
            ctx.wait(self.key, lambda: acr.registries.begin_import_image(ctx.names.registry_rg, ctx.names.registry,
                                                                         body), f"importing {host}/{source}")
        except LimitReached as err:
            raise LimitReached(err.message, fix_hint(ctx.answers, ctx.secrets)) from err
        except (RefusedError, WizardError) as err:
            if isinstance(err, (TransientError, InterruptedRun)):
                raise
            if creds is not None and "unauthorized" in err.message.lower():
                raise RefusedError(err.message, f"the source registry refused {ctx.answers.source_registry_user} "
                                   f"and its token: store the right access token in {ctx.secrets.ref(SOURCE_TOKEN)} "
                                   "(the wizard's image source, `i`, asks for it; or `keyring set studioml-azure "
                                   f"{ctx.secrets.ref(SOURCE_TOKEN).username}`), then run again") from err
            login = ctx.login_server
            raise type(err)(err.message, f"the server-side import failed; the seed's way works from a host with "
                            f"docker: az acr login -n {ctx.names.registry} && docker pull {host}/{source} && docker "
                            f"tag {host}/{source} {login}/{repo}:{tag} && docker push {login}/{repo}:{tag}; then run "
                            "again") from err
        finally:
            body["source"].pop("credentials", None)
        ctx.journal.record(self.key, "fact", imported=f"{ctx.facts.registry_id}|{repo}:{tag}")

    def verify(self, ctx: Context) -> None:
        """List the repository's tags (the data plane, with the service principal's password): the image is there
        and the principal may pull it. A new role assignment takes minutes to reach the registry, which refuses the
        principal meanwhile: that is waited out (up to :data:`PULL_WAIT` seconds), saying so."""
        _h, _s, repo, tag = self.target(ctx)
        started, said = time.monotonic(), -1
        while True:
            elapsed = time.monotonic() - started
            try:
                tags = self._tags(ctx, repo)
            except NotYetAllowed as err:
                if elapsed > PULL_WAIT:
                    raise
                if int(elapsed) // 15 != said:  # a line every 15 s, not one per try
                    said = int(elapsed) // 15
                    ctx.emit(StepProgress(self.key, f"{err.message} (waiting {int(elapsed)} s)"))
                ctx.sleep(ctx.poll_seconds)
                continue
            if tags is None:
                ctx.warn(self.key, "tags not listed: this cloud's registry data plane is not reachable from here")
                return
            if tag in tags:
                ctx.emit(StepProgress(self.key, f"{repo} tags: {', '.join(tags)}"))
                return
            if elapsed > 60:
                raise RefusedError(f"{repo}:{tag} is not in the registry after the import.", "run again")
            ctx.sleep(ctx.poll_seconds)
