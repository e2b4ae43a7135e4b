"""Bundled example programs (not part of the control plane's layers): a service that
behaves like a marketplace-sync API, for the README's first command and the tests."""
