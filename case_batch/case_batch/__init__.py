"""The batch prediction pipeline: the model wheel's text steps and classifier on Ray Data."""
