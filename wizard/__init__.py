"""studioml-azure's headless core: answers, plan, engine, steps, adapters and the sandbox cloud.

Nothing in this package imports Textual or ``screens/`` (``wizard.cli`` aside, lazily).
"""

__version__ = "0.1.0"
