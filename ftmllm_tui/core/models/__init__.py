"""Models and data: the shared Hugging Face cache, downloads as jobs, dataset_info.json and dataset rows, export to ollama."""
