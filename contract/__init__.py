"""The V2 contract of the service: tensor names, datatypes and shapes, and strict decoding."""
