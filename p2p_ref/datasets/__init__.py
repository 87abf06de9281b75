"""Data on disk: `AlignedDataset` and its `--preprocess`, image files of any depth and channel
count, pairs in A|B or A/ + B/ layout, downloads, the offline synthetic set, the CMP label
maps, and the `p2p-data` command (`data.py`). Imports only `p2p_ref.paper`."""
