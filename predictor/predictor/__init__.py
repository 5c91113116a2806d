"""The predictor: a KServe ``Model`` hosting the case_model classifier."""
