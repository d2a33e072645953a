"""dpoloop API service. Never imports torch: the workers own everything that does."""
