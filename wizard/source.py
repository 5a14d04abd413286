"""Where the runner image is imported from, and with whose credentials.

studio-go-runner's releases are published on Docker Hub and on quay.io (the runner's README: "Packaged releases
are also available as Docker images from hub.docker.com ... and quay.io"). ACR imports server-side, from addresses
Azure shares between customers, and Docker Hub allows 10 unauthenticated pulls an hour per address (Docker docs,
"Docker Hub usage and limits"): an anonymous Docker Hub import may be refused with ``toomanyrequests`` at any time.
A Docker Hub user (100 pulls an hour) or quay.io avoids it. The user name is an answer; its access token is a
secret, kept in the OS keyring (asked for by the TUI and the prompts, or set with ``keyring set``), never in the
answers file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .answers import Answers, image_parts
from .errors import InputError
from .secrets import SOURCE_TOKEN, SecretStore

DOCKER_HUB = ("docker.io", "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com")
PUBLISHED = ("docker.io/leafai/studio-go-runner", "quay.io/leafai/studio-go-runner")
RATE_LIMITED = "toomanyrequests"


@dataclass(frozen=True)
class SourceOption:
    """One way to get the runner image, as a person chooses it."""

    key: str  # quay | hub-user | hub-anonymous
    title: str
    image: str
    needs_user: bool


def is_docker_hub(image: str) -> bool:
    """Whether ``image`` is pulled from Docker Hub."""
    return image_parts(image)[0] in DOCKER_HUB


def same_tag_on(image: str, published: str) -> str:
    """``image``'s tag on another registry the runner is published on."""
    return f"{published}:{image_parts(image)[2]}"


def options(answers: Answers) -> list[SourceOption]:
    """The runner's registries for the answered tag: quay.io, Docker Hub with a user, Docker Hub anonymously."""
    hub, quay = (same_tag_on(answers.runner_image, p) for p in PUBLISHED)
    return [SourceOption("quay", f"{quay} (quay.io: no hourly limit on anonymous pulls)", quay, False),
            SourceOption("hub-user", f"{hub} with your Docker Hub user and an access token (100 pulls an hour)",
                         hub, True),
            SourceOption("hub-anonymous", f"{hub} anonymously (10 pulls an hour per address, shared by Azure's "
                         "imports: may be refused)", hub, False)]


def chosen(answers: Answers) -> str:
    """Which of :func:`options` the answers are (``custom`` for another image)."""
    if not answers.runner_image.startswith(PUBLISHED):
        return "custom"
    if not is_docker_hub(answers.runner_image):
        return "quay"
    return "hub-user" if answers.source_registry_user else "hub-anonymous"


def fix_hint(answers: Answers, secrets: SecretStore) -> str:
    """How to get past Docker Hub's anonymous limit, for these answers."""
    quay = same_tag_on(answers.runner_image, PUBLISHED[1])
    return (f"set source_registry_user to your Docker ID (its access token goes to {secrets.ref(SOURCE_TOKEN)}: "
            f"the wizard asks for it), or import from quay.io: runner_image = \"{quay}\"; the limit also passes "
            "within the hour")


def warnings(answers: Answers, secrets: SecretStore, *, brief: bool = False) -> list[str]:
    """What a plan or a review should say about the image source before anything is made (``brief``: one short
    sentence each, for a screen)."""
    if not is_docker_hub(answers.runner_image):
        return []
    if not answers.source_registry_user:
        if brief:
            return ["an anonymous Docker Hub import may be refused (10 pulls an hour per address, shared in Azure)"]
        return [f"Docker Hub allows 10 anonymous pulls an hour per address and the registry imports from addresses "
                f"Azure shares, so the import of {answers.runner_image} may be refused (toomanyrequests): "
                + fix_hint(answers, secrets)]
    if secrets.get(SOURCE_TOKEN) is None:
        if brief:
            return [f"the access token of {answers.source_registry_user} is not in the keyring yet"]
        return [f"the access token of {answers.source_registry_user} is not in the keyring yet "
                f"({secrets.ref(SOURCE_TOKEN)}): apply asks for it at a terminal; elsewhere store it first with "
                f"`keyring set studioml-azure {secrets.ref(SOURCE_TOKEN).username}`"]
    return []


def credentials(answers: Answers, secrets: SecretStore) -> dict[str, str] | None:
    """The import's source credentials (the token read from the keyring), or ``None`` for anonymous pulls; a user
    without a stored token is refused before anything is made."""
    if not answers.source_registry_user:
        return None
    token = secrets.get(SOURCE_TOKEN)
    if token is None:
        raise InputError(f"source_registry_user = \"{answers.source_registry_user}\" is answered but its access "
                         f"token is not in the keyring ({secrets.ref(SOURCE_TOKEN)}).",
                         "run the wizard or the command at a terminal (it asks once), or store it with `keyring set "
                         f"studioml-azure {secrets.ref(SOURCE_TOKEN).username}` (it reads the token from the "
                         "terminal, never the command line)")
    return {"username": answers.source_registry_user, "password": token}


def keep_token(secrets: SecretStore, token: str) -> None:
    """Store the source registry's access token (read back before use, as every secret)."""
    token = token.strip()
    if not token:
        raise InputError("the access token is empty.", "paste the token Docker Hub showed when you made it "
                         "(Account settings > Personal access tokens, read-only public repositories is enough)")
    secrets.put(SOURCE_TOKEN, token)


def ensure_token(answers: Answers, secrets: SecretStore, ask: Callable[[str], str] | None) -> None:
    """Before a run makes anything: the answered user's token is in the keyring, asked for (``ask``, hidden input)
    when a person is at the terminal; otherwise :func:`credentials` refuses with the way to store it."""
    if answers.source_registry_user and secrets.get(SOURCE_TOKEN) is None and ask is not None:
        keep_token(secrets, ask(f"Access token of {answers.source_registry_user} at "
                                f"{image_parts(answers.runner_image)[0]} (kept in the OS keyring)"))
    credentials(answers, secrets)
