"""``studioml-azure rotate``: a new password for the registry's service principal, without a moment in which a
cluster holds a password Azure no longer accepts.

Order: a new credential is added (the old one stays valid) and kept in the keyring, read back; every region's
pull secret is replaced with it; only when every region has it is the old credential removed. A region that
cannot be reached keeps the old, still valid, password and the old credential stays: the command says so and
exits 4, and running it again finishes (or ``apply`` of that region updates its pull secret).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from . import manifests
from .answers import Answers
from .errors import InputError
from .kube import Kube
from .naming import NAMESPACE, PULL_SECRET
from .secrets import SP_PASSWORD
from .session import Session, make_context
from .status import install_clusters
from .steps.base import Context
from .steps.identity import CRED_NAME, add_password, find_app, our_credential, remove_password, rotation_pending


def rotate_sp_password(ctx: Context, say: Callable[[str], None]) -> dict[str, Any]:
    """Rotate as the module says; returns what happened (never a secret), with ``exit_code`` 0 or 4."""
    app = find_app(ctx)
    if app is None:
        raise InputError(f"install {ctx.names.uniq_id} has no service principal yet.", "run apply first")
    ctx.secrets.check_usable()
    ours = our_credential(ctx, app)
    old = [c for c in app.get("passwordCredentials") or [] if c.get("displayName") == CRED_NAME]
    # An earlier rotation stopped after its new password reached the keyring: that one is kept, not replaced.
    new = ours if rotation_pending(ctx, ours) else None
    if new is None:
        new = add_password(ctx, app)
        ctx.journal.record("rotate", "fact", pending=new["keyId"])
        say(f"new password {new['keyId'][:8]}... kept in the keyring (read back), valid until {new['endDateTime']}")
    retiring = [c for c in old if c.get("keyId") != new["keyId"]]
    password = ctx.secrets.get(SP_PASSWORD)
    assert password is not None  # add_password read it back
    secret = manifests.pull_secret(ctx.login_server, str(app["appId"]), password)
    regions: dict[str, str] = {}
    for mc in install_clusters(ctx):
        region = str(mc["location"])
        path = ctx.state.kubeconfig_path(ctx.names.uniq_id, region)
        kube = Kube(path) if path.exists() else None
        if kube is None or not kube.reachable():
            regions[region] = "not reachable: its pull secret keeps the old password, which stays valid"
        elif kube.get(secret) is None:
            regions[region] = "no pull secret there (the cluster pulls with its own identity, or apply makes it)"
        else:
            kube.converge(secret)
            regions[region] = f"pull secret {NAMESPACE}/{PULL_SECRET} replaced"
        say(f"{region}: {regions[region]}")
    missed = [r for r, what in regions.items() if what.startswith("not reachable")]
    if not missed:
        for cred in retiring:
            remove_password(ctx, app, cred["keyId"], "the old password credential")
            say(f"old password {str(cred['keyId'])[:8]}... removed")
        ctx.journal.record("rotate", "fact", pending=None)
    return {"service_principal": ctx.names.sp, "key_id": new["keyId"], "valid_until": new["endDateTime"],
            "keyring": str(ctx.secrets.ref(SP_PASSWORD)), "regions": regions,
            "removed": [] if missed else [c["keyId"] for c in retiring], "exit_code": 4 if missed else 0}


def rotate_experimenters(ctx: Context, say: Callable[[str], None]) -> dict[str, Any]:
    """New experimenter credentials: made into the keyring (read back), then written to both VMs and their services
    reconfigured; until a VM has them its old ones keep working there (an interrupted rotation is finished by the
    next ``apply`` or ``rotate --experimenters``, which sees the VM's settings are not the keyring's)."""
    from .secrets import RABBITMQ_EXPERIMENTER, S3_EXPERIMENTER_KEY, S3_EXPERIMENTER_SECRET, access_key, random_password
    from .steps.endpoints import ROLES, Endpoints

    if any(ctx.secrets.get(k) is None for k in (RABBITMQ_EXPERIMENTER, S3_EXPERIMENTER_KEY)):
        raise InputError(f"install {ctx.names.uniq_id} has no experimenter credentials yet.", "run apply first")
    ctx.secrets.check_usable()
    for key, make in ((RABBITMQ_EXPERIMENTER, random_password), (S3_EXPERIMENTER_KEY, access_key),
                      (S3_EXPERIMENTER_SECRET, random_password)):
        ctx.secrets.put(key, make())
    say("new experimenter password and S3 keys kept in the keyring (read back)")
    done = {}
    for role in ROLES:
        done[role] = Endpoints().converge_settings(ctx, role)
        say(f"{ctx.names.vm(role)}: " + ("now accepts only the new credentials" if done[role] else "already had them"))
    return {"rotated": ["rabbitmq experimenter password", "s3 experimenter keys"], "delivered": done,
            "next": "studioml-azure client-config --output PATH, and hand experimenters the new file", "exit_code": 0}


def rotate(session: Session, answers: Answers, say: Callable[[str], None],
           experimenters: bool = False) -> dict[str, Any]:
    """Rotate the password of the install the answers pick (never beside an apply of it)."""
    ctx, sub, uid = make_context(session, answers, lambda e: None, any_region=True)
    if experimenters:
        say(f"rotating the experimenters' credentials of install {uid.value} in {sub['name']} ...")
        with ctx.state.apply_lock(uid.value):
            return rotate_experimenters(ctx, say)
    say(f"rotating the registry's service principal password of install {uid.value} in {sub['name']} ...")
    with ctx.state.apply_lock(uid.value):
        return rotate_sp_password(ctx, say)


def rotate_command(session: Session, answers: Answers, *, as_json: bool, experimenters: bool = False) -> int:
    """Rotate the registry principal's password (exit 0), or as far as the reachable regions allow (exit 4); or the
    experimenters' credentials."""
    doc = rotate(session, answers, lambda line: print(line, file=sys.stderr, flush=True), experimenters)
    if experimenters:
        print(f"done: {doc['next']}", file=sys.stderr)
        if as_json:
            print(json.dumps(doc, indent=2))
        return 0
    if doc["exit_code"]:
        print("not finished: the old password stays valid for the regions above that were not reached; run rotate "
              "again once they are", file=sys.stderr)
    else:
        print("done: every region pulls with the new password; the old one is gone", file=sys.stderr)
    if as_json:
        print(json.dumps(doc, indent=2))
    return int(doc["exit_code"])
