"""The sandbox's Azure Resource Manager: routing, long-running operations and resource providers."""
