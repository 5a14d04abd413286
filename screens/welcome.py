"""The first screen: what the wizard will do, and which cloud it talks to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

STEPS = [
    "Sign in to Azure and pick a subscription",
    "Derive this host's uniq_id (as the install guide does) and remember it",
    "Create the container registry and its pull-only service principal",
    "Size the GPU cluster: availability, quota and the monthly cost, before anything is made",
    "Create the AKS cluster, RabbitMQ and the file server (S3), and write a KUBECONFIG per region",
    "Deploy the NVIDIA device plugin and the runner, and follow the rollout",
]


class WelcomeScreen(Screen[None]):
    """Welcome: the plan in six lines and the target cloud; Enter begins."""

    BINDINGS = [Binding("enter", "app.start", "Begin", tooltip="Sign in and pick the subscription", id="begin")]

    def __init__(self, cloud: str, arm: str, detail: str) -> None:
        super().__init__()
        self.cloud, self.arm, self.detail = cloud, arm, detail

    def compose(self) -> ComposeResult:
        """Header, the steps, the cloud panel, the footer."""
        yield Header()
        with VerticalScroll(id="welcome"):
            yield Static("Welcome to studioml-azure", id="welcome-title")
            yield Static("Press [b]Enter[/b] to begin, [b]?[/b] for help, [b]q[/b] to quit. Secrets go to your OS "
                         "keyring, never to a file.", classes="hint")
            yield Static("This wizard installs studio-go-runner on Azure GPU clusters, end to end:",
                         classes="lead")
            yield Static("\n".join(f"  {i}. {s}" for i, s in enumerate(STEPS, 1)), id="welcome-steps")
            yield Static(f"Cloud: [b]{self.cloud}[/b]\nARM endpoint: {self.arm}\n{self.detail}", id="cloud-panel")
        yield Footer()
