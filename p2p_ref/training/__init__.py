"""Training: the `p2p-train` command (`train.py`, settings in `config.py`), the fast path and
`p2p-bench`, checkpoints, devices and DDP, the resumable data order, validation and the run's
logs. Imports only `p2p_ref.paper` and `p2p_ref.datasets`."""
