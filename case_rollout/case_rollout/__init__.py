"""``case-rollout``: canary deploy, status, promote and rollback of the InferenceService."""
