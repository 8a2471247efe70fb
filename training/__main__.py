"""``python -m training STAGE --config X.yaml`` (what ``accelerate launch -m training`` runs)."""

from training.cli import app

app()
