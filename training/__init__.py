"""The reasoner's post-training pipeline: curriculum SFT, MGPO, Long2Short, offline
self-distillation, Instruct RL, decontamination and checkpoint merging."""
