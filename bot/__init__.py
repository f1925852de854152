"""shopkeep: a self-hosted AI customer-service agent for online stores."""

__version__ = "0.1.0"
