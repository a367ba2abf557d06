"""Result stores: where raw results, circuits and analyses live (local directory, IBM COS)."""
