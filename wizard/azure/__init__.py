"""Adapters to Azure: endpoints and credentials, the official SDK clients, Graph, and error classification."""
