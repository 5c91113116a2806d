"""The reference language-detection service (tornado), standing in for the organisation's own."""
