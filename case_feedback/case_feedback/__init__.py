"""The feedback loop: what the service answered, what agents corrected, how often they agree.

Without extras this package is the *prediction log* (:mod:`case_feedback.prediction_log`): the
emitter the transformer and the batch loader use to send answered cases to the feedback service,
off the request path. With the ``service`` extra it is also the feedback service itself
(:mod:`case_feedback.service`, ``python -m case_feedback``): the prediction log's store, the CRM's
corrections API, quality per model version, erasure.
"""
