"""The selective scan: chunked (PyTorch), triton (fused kernel), select (the choice among them)."""
