"""Export to the Hugging Face Hub: the model card of a run and the push of its files."""
