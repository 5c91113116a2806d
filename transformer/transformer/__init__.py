"""The transformer: text steps, filtering and language detection in front of the predictor."""
