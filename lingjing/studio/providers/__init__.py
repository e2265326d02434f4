"""Adapters to the services the studio can call: language models, image generators, speech."""
