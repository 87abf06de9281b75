"""`python -m p2p_ref.gpu_check` (`make gpu-check`): prove and measure the GPU fast path.
`check` runs the steps (`steps`) under one budget and writes the report (`report`); `ddp` is
the torchrun script. May import anything in p2p_ref except `course`; nothing imports it."""
