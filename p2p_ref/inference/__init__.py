"""Using a trained generator: `p2p-translate`, `p2p-eval` (`eval.py`), `p2p-export`,
`p2p-convert` (official weights) and the results figure. Imports only `p2p_ref.paper`,
`p2p_ref.datasets` and `p2p_ref.training`."""
