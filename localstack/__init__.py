"""The local stack: the services as plain processes on 127.0.0.1, as the pods run them."""
