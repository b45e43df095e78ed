"""Running queries safely: the served dataset with its cache (``endpoint``), the pool of forked query
workers (``pool``), what runs inside a worker (``worker``), process plumbing (``sandbox``), the
kernel-enforced rule on where a worker may connect (``egress``), and threads for a remote engine
(``remote_pool``). Every query the server runs goes through here.
"""
