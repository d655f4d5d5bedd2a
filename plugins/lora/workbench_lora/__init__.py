"""The LoRA retraining plugin."""
