"""The demo, and the local web sites it, the tests and the benchmarks serve.

``local_site``: benign sites on 127.0.0.1 (no internet) and the synthetic pictures they
show; ``gallery_demo``: ``hotline demo``, such a gallery crawled end to end.

May import: the standard library and Pillow (``local_site``, which tests and crawl
benchmarks import on their own); the installation, flows, hashing and the command line's
output (``gallery_demo``, which ``hotline demo`` runs).
"""
