"""The sandbox's Kubernetes: one API server per sandbox AKS cluster, with simulated controllers."""
