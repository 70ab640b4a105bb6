"""The part of lstmkit that knows no text: the training loop, devices, DDP, checkpoint
folders, resume state and plots. Tasks (``lstmkit.tasks``) build on it; it imports none."""
