"""The language service (``python -m case_language``) and its client (:mod:`case_language.client`).

The service is the reference implementation of the organisation's language-detection HTTP
contract (:mod:`case_language.protocol`); the client is what the transformer and the batch
pipeline call it with. The client needs no web framework; the service needs the ``service`` extra.
"""
