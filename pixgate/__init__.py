"""pixgate's composition root: the application factory and the command line.

The only package that imports both roles. Below it, lowest first: `pixgate_signing` (the URL
signing library), `config` (settings), `proxy` (the core: storage, sources, pipeline, direct-link
grammar, errors) and `uploader` (API, repository, pages). `make lint` checks the arrows.
"""
