"""Test-only helpers: the fault-injecting language service and V2 request builders."""
