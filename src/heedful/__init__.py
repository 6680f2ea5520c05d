"""heedful: a stateful, self-hostable implementation of the Attentive v1 REST API."""

__version__ = "0.1.0"
