"""Test-session settings shared by the core's and the plugins' tests."""

import torch

# Tiny test models run faster on one thread than with two threads fighting over the CPU.
torch.set_num_threads(1)
