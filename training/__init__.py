"""panx-ner training: data, features, metrics, fine-tuning, pretraining, the study and publishing."""
