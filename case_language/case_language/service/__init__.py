"""The language service: tornado handlers, settings, and the serve loop."""
